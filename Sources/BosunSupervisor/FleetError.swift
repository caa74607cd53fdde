import BosunStore

/// A control-API call that failed below the fleet (the store could not read or write), phrased for
/// the operator. The control API throws it instead of the store's own error, so its callers (the
/// shell) need not know the store.
public struct FleetError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    init(_ error: StoreError) {
        self.description = error.description
    }
}

extension Fleet {
    /// Runs one control-API call's store work; a store failure becomes a `FleetError`.
    func controlCall<T>(_ body: () async throws(StoreError) -> T) async throws(FleetError) -> T {
        do {
            return try await body()
        } catch {
            throw FleetError(error)
        }
    }
}
