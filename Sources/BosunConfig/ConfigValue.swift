import BosunCore
import FoundationEssentials

/// A parsed TOML document as plain Swift values, so loading code can report the key path of every
/// problem. Dates and times are kept as their TOML text.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case double(Double)
    case bool(Bool)
    case datetime(String)
    case array([ConfigValue])
    case table([String: ConfigValue])

    /// What the value is, in the words an error message uses.
    public var kind: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .double: "a number"
        case .bool: "a boolean"
        case .datetime: "a date/time"
        case .array: "an array"
        case .table: "a table"
        }
    }

    /// `parseTOML`, with the 1-based line of each header of each top-level array of tables, by name.
    static func parseTOMLWithLines(_ text: String, file: String) throws(ConfigError) -> (
        table: [String: ConfigValue], tableArrayLines: [String: [Int]]
    ) {
        do {
            return try TOMLParser.parseWithLines(text)
        } catch {
            throw ConfigError(file: file, key: nil, message: error.description)
        }
    }

    /// Parses TOML text; syntax errors carry the file, line and column.
    public static func parseTOML(_ text: String, file: String) throws(ConfigError) -> [String: ConfigValue] {
        do {
            return try TOMLParser.parse(text)
        } catch {
            throw ConfigError(file: file, key: nil, message: error.description)
        }
    }
}

/// A configuration problem, naming the file, the key path and what was expected.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let key: String?
    public let message: String

    public init(file: String, key: String?, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { return "\(file): \(key): \(message)" }
        return "\(file): \(message)"
    }
}

/// Reads typed values out of one TOML table, recording which keys were used so unknown keys can be
/// reported (a typo must not be silently ignored).
struct TableReader {
    let file: String
    let prefix: String
    let table: [String: ConfigValue]
    private(set) var used: Set<String> = []

    init(file: String, prefix: String = "", table: [String: ConfigValue]) {
        self.file = file
        self.prefix = prefix
        self.table = table
    }

    func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, key: path(key), message: message)
    }

    private mutating func value(_ key: String) -> ConfigValue? {
        used.insert(key)
        return table[key]
    }

    mutating func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw error(key, "expected a string, found \(value.kind)") }
        guard !text.isEmpty else { throw error(key, "expected a non-empty string") }
        return text
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .integer(let number) = value else {
            throw error(key, "expected an integer in \(range.lowerBound)…\(range.upperBound), found \(value.kind)")
        }
        guard range.contains(number) else {
            throw error(key, "expected an integer in \(range.lowerBound)…\(range.upperBound), found \(number)")
        }
        return number
    }

    /// A duration in seconds: an integer or a number.
    mutating func seconds(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let value = value(key) else { return nil }
        let number: Double
        switch value {
        case .integer(let n): number = Double(n)
        case .double(let d): number = d
        default: throw error(key, "expected a duration in seconds, found \(value.kind)")
        }
        guard range.contains(number) else {
            throw error(key, "expected seconds in \(range.lowerBound)…\(range.upperBound), found \(number)")
        }
        return number
    }

    mutating func stringTable(_ key: String) throws(ConfigError) -> [String: String]? {
        guard let value = value(key) else { return nil }
        guard case .table(let entries) = value else {
            throw error(key, "expected a table of strings, found \(value.kind)")
        }
        var result: [String: String] = [:]
        for (name, entry) in entries {
            guard case .string(let text) = entry else {
                throw error("\(key).\(name)", "expected a string, found \(entry.kind)")
            }
            result[name] = text
        }
        return result
    }

    mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw error(key, "expected true or false, found \(value.kind)") }
        return flag
    }

    /// An array of non-empty strings; with `allowSingle`, one string stands for a one-element array.
    mutating func stringArray(_ key: String, allowSingle: Bool = false) throws(ConfigError) -> [String]? {
        guard let value = value(key) else { return nil }
        let expected = allowSingle ? "a string or an array of strings" : "an array of strings"
        let items: [ConfigValue]
        switch value {
        case .array(let array): items = array
        case .string where allowSingle: items = [value]
        default: throw error(key, "expected \(expected), found \(value.kind)")
        }
        var result: [String] = []
        for (position, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw error("\(key)[\(position)]", "expected a string, found \(item.kind)")
            }
            guard !text.isEmpty else { throw error("\(key)[\(position)]", "expected a non-empty string") }
            result.append(text)
        }
        return result
    }

    /// An array of tables (`[[key]]`), each as a reader whose prefix is `key[N]`.
    mutating func tableArray(_ key: String) throws(ConfigError) -> [TableReader]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else {
            throw error(key, "expected [[\(key)]] tables, found \(value.kind)")
        }
        var result: [TableReader] = []
        for (position, item) in items.enumerated() {
            guard case .table(let entries) = item else {
                throw error("\(key)[\(position)]", "expected a table, found \(item.kind)")
            }
            result.append(TableReader(file: file, prefix: "\(path(key))[\(position)]", table: entries))
        }
        return result
    }

    /// A duration in seconds: an integer, a number, or a string such as `"90s"`, `"30m"`, `"2h"`, `"1d"`,
    /// `"1h30m"`.
    mutating func duration(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let value = value(key) else { return nil }
        let number: Double
        switch value {
        case .integer(let n): number = Double(n)
        case .double(let d): number = d
        case .string(let text):
            guard let seconds = Self.parseDuration(text) else {
                throw error(key, "expected a duration like 90, \"30m\", \"2h\" or \"1h30m\", found \"\(text)\"")
            }
            number = seconds
        default: throw error(key, "expected a duration in seconds or a string like \"30m\", found \(value.kind)")
        }
        guard range.contains(number) else {
            throw error(key, "expected a duration in \(range.lowerBound)…\(range.upperBound) seconds, found \(number)")
        }
        return number
    }

    /// `"90s"`, `"30m"`, `"2h"`, `"1d"`, `"1h30m"`, `"45"` → seconds; nil when malformed.
    static func parseDuration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var total = 0.0
        var digits = ""
        var sawUnit = false
        for character in text.trimmingSpaces() {
            if character.isASCII && (character.isNumber || character == ".") {
                digits.append(character)
            } else if let unit = units[character], let number = Double(digits) {
                total += number * unit
                digits = ""
                sawUnit = true
            } else {
                return nil
            }
        }
        if !digits.isEmpty {
            guard !sawUnit, let number = Double(digits) else { return nil }
            total += number
        } else if !sawUnit {
            return nil
        }
        return total
    }

    mutating func table(_ key: String) throws(ConfigError) -> TableReader? {
        guard let value = value(key) else { return nil }
        guard case .table(let entries) = value else { throw error(key, "expected a table, found \(value.kind)") }
        return TableReader(file: file, prefix: path(key), table: entries)
    }

    /// Fails on the first key that was never read.
    func rejectUnknownKeys() throws(ConfigError) {
        let unknown = table.keys.filter { !used.contains($0) }.sorted()
        guard let first = unknown.first else { return }
        throw error(first, "unknown key (expected one of: \(used.sorted().joined(separator: ", ")))")
    }
}
