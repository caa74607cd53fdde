/// What a sed command does besides printing: GNU sed runs commands (`e`, `s///e`), writes files (`w`, `W`,
/// `s///w`) and reads files (`r`, `R`) from inside its script. Each becomes a part of its own:
/// `sed e CMD` (and the commands of CMD), `sed s///e`, `sed w FILE` (a write), `sed r FILE` (a read),
/// `sed --file FILE` (a script this reading cannot see) and `sed ? SCRIPT` (a script it cannot read).
/// `--sandbox` makes sed refuse e, r and w, so nothing is split out.
extension ProgramParts {
    static func sed(_ argv: [String]) -> [ShellCommand] {
        var scripts: [String] = []
        var files: [String] = []
        var operands: [String] = []
        var sandbox = false
        var onlyOperands = false
        var i = 1
        while i < argv.count {
            let word = argv[i]
            let next = i + 1 < argv.count ? argv[i + 1] : nil
            i += 1
            if onlyOperands || word == "-" || !word.hasPrefix("-") {
                operands.append(word)
                continue
            }
            if word == "--" {
                onlyOperands = true
                continue
            }
            if word.hasPrefix("--") {
                let name = word.prefix { $0 != "=" }
                let value = word.contains("=") ? String(word.drop { $0 != "=" }.dropFirst()) : nil
                switch name {
                case "--expression", "--file":
                    guard let text = value ?? next else { continue }
                    if value == nil { i += 1 }
                    if name == "--expression" { scripts.append(text) } else { files.append(text) }
                case "--line-length":
                    if value == nil { i += 1 }
                case "--sandbox":
                    sandbox = true
                default:
                    break
                }
                continue
            }
            // Short options, possibly combined: -n, -E, -ne SCRIPT, -i[SUFFIX], -f FILE, -l N, -s, -z, -u.
            var letters = word.dropFirst()[...]
            while let letter = letters.first {
                letters = letters.dropFirst()
                if letter == "e" || letter == "f" || letter == "l" {
                    let text = letters.isEmpty ? next : String(letters)
                    if letters.isEmpty { i += 1 }
                    if let text {
                        if letter == "e" { scripts.append(text) }
                        if letter == "f" { files.append(text) }
                    }
                    break
                }
                if letter == "i" { break }
            }
        }
        if scripts.isEmpty && files.isEmpty, let first = operands.first { scripts.append(first) }
        var parts = files.map { ShellCommand(argv: ["sed", "--file", $0]) }
        if sandbox { return parts }
        for script in scripts {
            guard let effects = SedScript.effects(script) else {
                parts.append(ShellCommand(argv: ["sed", "?", script]))
                continue
            }
            for effect in effects {
                switch effect {
                case .execute(let command?):
                    parts.append(ShellCommand(argv: ["sed", "e", command]))
                    parts += ShellParser.script(command, depth: 1).commands.flatMap(expand)
                case .execute(nil):
                    parts.append(ShellCommand(argv: ["sed", "s///e"]))
                case .write(let file):
                    parts.append(ShellCommand(argv: ["sed", "w", file], writes: [file]))
                case .read(let file):
                    parts.append(ShellCommand(argv: ["sed", "r", file], reads: [file]))
                }
            }
        }
        return parts
    }
}

/// A reading of GNU sed scripts, only as deep as needed to find the commands that execute, write or read.
enum SedScript {
    enum Effect: Equatable {
        /// `e COMMAND`, or (nil) `e` alone or the `s///e` flag: the pattern space runs as a command.
        case execute(String?)
        case write(String)
        case read(String)
    }

    /// The effects of `script`, or nil when it cannot be read with confidence.
    static func effects(_ script: String) -> [Effect]? {
        var reader = Reader(bytes: Array(script.utf8))
        return reader.read()
    }

    private struct Reader {
        let bytes: [UInt8]
        var i = 0
        var effects: [Effect] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { i >= bytes.count }
        var current: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipBlanks() {
            while let c = current, c == .space || c == .tab { i += 1 }
        }

        /// The rest of the line (a file name, a command, `a` text), without the newline.
        mutating func restOfLine() -> String {
            let start = i
            while let c = current, c != .newline { i += 1 }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        /// Up to `;`, a newline or `}` (a label).
        mutating func skipLabel() {
            while let c = current, c != .newline, c != .semicolon, c != .closeBrace { i += 1 }
        }

        mutating func read() -> [Effect]? {
            while true {
                while let c = current, c == .space || c == .tab || c == .newline || c == .semicolon || c == .closeBrace
                {
                    i += 1
                }
                guard let c = current else { return effects }
                if c == .hash {
                    _ = restOfLine()
                    continue
                }
                guard address() else { return nil }
                skipBlanks()
                if current == .comma {
                    i += 1
                    skipBlanks()
                    guard address(second: true) else { return nil }
                    skipBlanks()
                }
                while current == UInt8(ascii: "!") || current == .space || current == .tab { i += 1 }
                guard let command = current else { return nil }
                i += 1
                guard self.command(command) else { return nil }
            }
        }

        mutating func address(second: Bool = false) -> Bool {
            guard let c = current else { return true }
            if ReaderChars.isDigit(c) || (second && (c == .plus || c == UInt8(ascii: "~"))) {
                if !ReaderChars.isDigit(c) { i += 1 }
                while let d = current, ReaderChars.isDigit(d) { i += 1 }
                if current == UInt8(ascii: "~") {
                    i += 1
                    while let d = current, ReaderChars.isDigit(d) { i += 1 }
                }
                return true
            }
            if c == .dollar {
                i += 1
                return true
            }
            if c == .slash || c == .backslash {
                if c == .backslash { i += 1 }
                guard let delimiter = current, delimiter != .newline else { return false }
                i += 1
                guard delimited(delimiter) else { return false }
                while current == UInt8(ascii: "I") || current == UInt8(ascii: "M") { i += 1 }
            }
            return true
        }

        /// Skips to the unescaped `delimiter` and past it.
        mutating func delimited(_ delimiter: UInt8) -> Bool {
            while let c = current {
                i += 1
                if c == .backslash {
                    guard !atEnd else { return false }
                    i += 1
                } else if c == delimiter {
                    return true
                } else if c == .newline {
                    return false
                }
            }
            return false
        }

        mutating func command(_ command: UInt8) -> Bool {
            switch Character(Unicode.Scalar(command)) {
            case "{", "}", "=", "d", "D", "g", "G", "h", "H", "n", "N", "p", "P", "x", "z", "F":
                return true
            case "l", "L", "q", "Q":
                skipBlanks()
                while let d = current, ReaderChars.isDigit(d) { i += 1 }
                return true
            case ":", "b", "t", "T", "v":
                skipBlanks()
                skipLabel()
                return true
            case "a", "i", "c":
                // Text to the end of the line; `\` + newline continues it.
                while let c = current, c != .newline {
                    i += c == .backslash ? 2 : 1
                }
                return true
            case "r", "R":
                skipBlanks()
                effects.append(.read(restOfLine()))
                return true
            case "w", "W":
                skipBlanks()
                effects.append(.write(restOfLine()))
                return true
            case "e":
                skipBlanks()
                let text = restOfLine()
                effects.append(.execute(text.isEmpty ? nil : text))
                return true
            case "y":
                guard let delimiter = current, delimiter != .newline, delimiter != .backslash else { return false }
                i += 1
                return delimited(delimiter) && delimited(delimiter)
            case "s":
                guard let delimiter = current, delimiter != .newline, delimiter != .backslash else { return false }
                i += 1
                guard delimited(delimiter), delimited(delimiter) else { return false }
                return flags()
            default:
                return false
            }
        }

        /// The flags of `s`: g, p, i/I, m/M, a number, e (execute), w FILE (write, to the end of the line).
        mutating func flags() -> Bool {
            while let c = current {
                switch Character(Unicode.Scalar(c)) {
                case "g", "p", "i", "I", "m", "M", "0"..."9":
                    i += 1
                case "e":
                    i += 1
                    effects.append(.execute(nil))
                case "w":
                    i += 1
                    skipBlanks()
                    effects.append(.write(restOfLine()))
                    return true
                case ";", "\n", "}", " ", "\t", "#":
                    return true
                default:
                    return false
                }
            }
            return true
        }
    }
}

private enum ReaderChars {
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
