public import BosunCore
public import GRDB

/// A typed identifier is stored as its plain TEXT (the columns are the same as when they held a
/// `String`), so the store's API takes and returns `HostName`, `ThreadID` and `RequestID` with no
/// migration. Reading accepts exactly what `String` accepts. A conformance of a public type to a
/// public protocol is public, hence the public imports of this one file (the rest of the store
/// keeps GRDB internal).
extension Identifier: DatabaseValueConvertible, StatementColumnConvertible {
    public var databaseValue: DatabaseValue { rawValue.databaseValue }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> Identifier? {
        String.fromDatabaseValue(dbValue).map(Identifier.init(rawValue:))
    }

    public init?(sqliteStatement: SQLiteStatement, index: CInt) {
        self.init(rawValue: String(sqliteStatement: sqliteStatement, index: index))
    }
}
