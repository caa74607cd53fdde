import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Removes secrets from text before it leaves the host (ARCHITECTURE.md §4), keeping the non-secret
/// context visible so a person can still decide: `curl -H "Authorization: Bearer [REDACTED]" https://api.x`.
///
/// Pure and idempotent: `redact(redact(x)) == redact(x)`. It errs towards redacting; the known gaps are
/// secrets with no recognisable shape, name, or entropy (a short password passed positionally).
public enum Redactor {
    /// What replaces each secret.
    public static let marker = "[REDACTED]"

    /// `text` with every recognised secret replaced by ``marker``.
    public static func redact(_ text: String) -> String {
        guard !text.isEmpty else { return text }
        let keysRedacted = redactPrivateKeys(text)
        var scalars = Array(keysRedacted.unicodeScalars)
        var changed = false
        for rule in rules {
            if let result = rule.apply(to: scalars) {
                scalars = result
                changed = true
            }
        }
        return changed ? String(String.UnicodeScalarView(scalars)) : keysRedacted
    }

    /// `evidence` with every free-text field redacted: command, reason, paths, changed files, the commands
    /// of earlier test runs, side effects, network and credentials.
    public static func redact(_ evidence: Evidence) -> Evidence {
        var redacted = evidence
        redacted.command = evidence.command.map { redact($0) }
        redacted.purpose = evidence.purpose.map { redact($0) }
        redacted.paths = evidence.paths.map { redact($0) }
        redacted.changedFiles = evidence.changedFiles.map { redact($0) }
        redacted.testsRun = evidence.testsRun.map { run in
            var run = run
            run.command = redact(run.command)
            return run
        }
        redacted.sideEffects = evidence.sideEffects.map { redact($0) }
        redacted.network = evidence.network.map { redact($0) }
        redacted.credentials = evidence.credentials.map { redact($0) }
        redacted.nextStep = evidence.nextStep.map { redact($0) }
        return redacted
    }
}

// MARK: - Rules

extension Redactor {
    /// One regular expression and what to put in place of each match (`nil` keeps the match as it is).
    fileprivate struct Rule: Sendable {
        let regex: ScalarPattern
        let replacement: @Sendable (Match) -> String?

        init(
            _ pattern: String, options: ScalarPattern.Options = [],
            _ replacement: @escaping @Sendable (Match) -> String?
        ) {
            do {
                regex = try ScalarPattern(pattern, options: options)
            } catch {
                // Built-in constant patterns only; RedactorTests compiles every one.
                preconditionFailure("Redactor: invalid built-in pattern \(pattern): \(error)")
            }
            self.replacement = replacement
        }

        /// `scalars` with each match replaced, or nil when nothing was replaced.
        func apply(to scalars: [Unicode.Scalar]) -> [Unicode.Scalar]? {
            let matches = regex.matches(in: scalars)
            guard !matches.isEmpty else { return nil }
            var output: [Unicode.Scalar] = []
            var cursor = 0
            var replaced = false
            for result in matches {
                guard let replacement = replacement(Match(scalars: scalars, result: result)) else { continue }
                output += scalars[cursor..<result.range.lowerBound]
                output += replacement.unicodeScalars
                cursor = result.range.upperBound
                replaced = true
            }
            guard replaced else { return nil }
            output += scalars[cursor...]
            return output
        }
    }

    /// A match with its groups as strings (an absent group is `""`).
    fileprivate struct Match {
        let scalars: [Unicode.Scalar]
        let result: ScalarPattern.Match

        subscript(_ group: Int) -> String {
            guard group < result.groups.count, let range = result.groups[group] else { return "" }
            return String(String.UnicodeScalarView(scalars[range]))
        }

        /// The character right after the match, if any.
        var next: String {
            let end = result.range.upperBound
            guard end < scalars.count else { return "" }
            // NSString gave one UTF-16 unit: half of a pair became U+FFFD.
            return scalars[end].utf16.count == 1 ? String(scalars[end]) : "\u{FFFD}"
        }

        /// The shell command segment before the match (back to a newline, `|`, `;` or `&`), at most
        /// `limit` UTF-16 units, so repeated matches stay linear.
        func segmentBefore(limit: Int = 300) -> String {
            var start = result.range.lowerBound
            var units = 0
            var cutPair = false
            while start > 0 {
                let width = scalars[start - 1].utf16.count
                if units + width > limit {
                    // The window started inside a UTF-16 pair: NSString kept its lone half (U+FFFD).
                    cutPair = units < limit
                    break
                }
                units += width
                start -= 1
            }
            var view = String.UnicodeScalarView()
            if cutPair { view.append("\u{FFFD}") }
            view.append(contentsOf: scalars[start..<result.range.lowerBound])
            let window = String(view)
            guard let stop = window.lastIndex(where: { "\n|;&".contains($0) }) else { return window }
            return String(window[window.index(after: stop)...])
        }
    }

    /// Suffixes (compared lowercased, with `_`, `-`, `.` removed) that make a name secret: `DB_PASSWORD`,
    /// `--api-key`, `aws_secret_access_key`. A suffix, so `PASSWORD_MIN_LENGTH` and `max_tokens` are not.
    private static let secretNamePattern =
        #"[A-Za-z0-9_.\-]*?(?:token|secret|passw(?:or)?d|pwd|passphrase|api[_.\-]?key|access[_.\-]?key|"#
        + #"private[_.\-]?key|secret[_.\-]?key|signing[_.\-]?key|encryption[_.\-]?key|master[_.\-]?key|"#
        + #"credentials?)(?![A-Za-z0-9_.\-])"#

    /// A value: double-quoted (with escapes), single-quoted, `\"…\"` (JSON inside a shell string), or bare.
    private static let valuePattern =
        #"(?:"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|\\"(?:[^"\\\n]|\\[^"\n])*\\"|[^\s"'`;&|<>(){}\[\],\\]+)"#

    /// Words that are types in code (`password: String`), not values.
    private static let typeWords: Set<String> = [
        "string", "string?", "str", "int", "bool", "data", "bytes", "any", "securestring", "null", "nil", "none",
        "true", "false", "undefined",
    ]

    /// Replaces the secret part of `value`, keeping its quotes; `nil` when it is not a literal secret.
    fileprivate static func redactValue(_ value: String, next: String) -> String? {
        let quotes: (open: String, close: String)
        if value.hasPrefix("\\\"") && value.hasSuffix("\\\"") && value.count >= 4 {
            quotes = ("\\\"", "\\\"")
        } else if (value.hasPrefix("\"") && value.hasSuffix("\"") || value.hasPrefix("'") && value.hasSuffix("'"))
            && value.count >= 2
        {
            quotes = (String(value.prefix(1)), String(value.suffix(1)))
        } else {
            quotes = ("", "")
            // `password = os.environ.get(...)`, `token = tokens[0]`: code, not a value.
            if next == "(" || next == "[" { return nil }
        }
        let inner = String(value.dropFirst(quotes.open.count).dropLast(quotes.close.count))
        guard !looksHarmless(inner) else { return nil }
        return quotes.open + marker + quotes.close
    }

    /// Empty, already redacted, a variable or template reference, a path, or a type name.
    private static func looksHarmless(_ value: String) -> Bool {
        let trimmed = value.trimmingSpaces()
        if trimmed.isEmpty || trimmed == marker { return true }
        if trimmed.hasPrefix("$") || trimmed.hasPrefix("{{") || trimmed.hasPrefix("%{") { return true }
        if typeWords.contains(trimmed.lowercased()) { return true }
        let isPath =
            (trimmed.hasPrefix("/") || trimmed.hasPrefix("~/") || trimmed.hasPrefix("./") || trimmed.hasPrefix("../"))
            && !trimmed.contains(where: \.isWhitespace)
        return isPath
    }

    /// Whether a command segment runs curl, wget or httpie (where `-u`/`--user` takes `user:password`).
    fileprivate static func isHTTPClientCommand(_ segment: String) -> Bool {
        let clients: Set<Substring> = ["curl", "wget", "http", "https"]
        return segment.split(whereSeparator: \.isWhitespace).contains { word in
            clients.contains(word.split(separator: "/").last ?? word)
        }
    }

    /// Names that end like a secret word but are not: the shell's working directory, negated flags.
    fileprivate static func isExcludedName(_ name: String) -> Bool {
        var bare = name.lowercased()
        while bare.hasPrefix("-") { bare.removeFirst() }
        return bare == "pwd" || bare == "oldpwd" || bare.hasPrefix("no-") || bare.hasPrefix("no_")
    }

    /// Names whose value is a digest or an identifier, not a secret (`sha256:…`, `"commit": "…"`).
    private static let digestNameSuffixes = [
        "sha", "sha1", "sha224", "sha256", "sha384", "sha512", "md5", "hash", "digest", "checksum", "commit",
        "integrity", "etag", "head", "rev", "revision", "ref", "parent", "tree", "oid", "id", "uuid", "guid",
    ]

    /// Whether a ≥32-character base64/hex run after `=`/`:` is probably a secret.
    fileprivate static func looksRandom(_ candidate: String, name: String, next: String) -> Bool {
        let lowerName = name.lowercased().filter { $0.isLetter || $0.isNumber }
        if digestNameSuffixes.contains(where: { lowerName.hasSuffix($0) }) { return false }
        let scalars = Array(candidate.unicodeScalars)
        let isHex = scalars.allSatisfy {
            ("0"..."9").contains($0) || ("a"..."f").contains($0) || ("A"..."F").contains($0)
        }
        let hasDigit = scalars.contains { ("0"..."9").contains($0) }
        let hasLower = scalars.contains { ("a"..."z").contains($0) }
        let hasUpper = scalars.contains { ("A"..."Z").contains($0) }
        if isHex {
            // A 40-digit hex run is a git commit id; digits-only runs are numbers.
            guard scalars.count != 40, hasDigit, hasLower || hasUpper else { return false }
            return entropy(of: candidate) >= 3.0
        }
        if candidate.contains("/") {
            // Paths: absolute, followed by an extension, or with an all-lowercase word segment (`src/…`).
            if candidate.hasPrefix("/") || next == "." || candidate.contains("//") { return false }
            let segments = candidate.split(separator: "/")
            if segments.contains(where: { $0.count >= 3 && $0.allSatisfy({ ("a"..."z").contains($0) }) }) {
                return false
            }
        }
        let classes = [hasDigit, hasLower, hasUpper].filter { $0 }.count
        guard hasDigit, classes >= 2 else { return false }
        return entropy(of: candidate) >= 3.5
    }

    /// Shannon entropy in bits per character.
    private static func entropy(of text: String) -> Double {
        var counts: [Character: Int] = [:]
        for character in text { counts[character, default: 0] += 1 }
        let total = Double(text.count)
        return counts.values.reduce(0) { sum, count in
            let p = Double(count) / total
            return sum - p * log2(p)
        }
    }

    private static let privateKeyHeader = Rule(#"-----BEGIN ([A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----"#) { _ in nil }

    /// PEM / OpenSSH / PGP private key blocks keep their armour lines and lose their body; a block that never
    /// ends (truncated output) loses everything after its header. One pass, so many headers stay linear.
    fileprivate static func redactPrivateKeys(_ text: String) -> String {
        // A quick test on the bytes (any header contains them), before splitting into scalars.
        guard containsPrivateKeyWords(text) else { return text }
        let scalars = Array(text.unicodeScalars)
        func string(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        var output = ""
        var cursor = 0
        while cursor < scalars.count, let header = privateKeyHeader.regex.firstMatch(in: scalars, from: cursor) {
            let bodyStart = header.range.upperBound
            output += string(cursor..<bodyStart)
            let footer = "-----END \(header.groups[1].map(string) ?? "")-----"
            guard let end = scalars[bodyStart...].firstRange(of: Array(footer.unicodeScalars)) else {
                output += separators(in: string(bodyStart..<scalars.count), atEnd: false) + marker
                return output
            }
            let body = string(bodyStart..<end.lowerBound)
            output += separators(in: body, atEnd: false) + marker + separators(in: body, atEnd: true) + footer
            cursor = end.upperBound
        }
        return output + string(cursor..<scalars.count)
    }

    /// Whether the UTF-8 of `text` contains `PRIVATE KEY` (a plain byte search).
    private static func containsPrivateKeyWords(_ text: String) -> Bool {
        let needle: [UInt8] = Array("PRIVATE KEY".utf8)
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= needle.count else { return false }
            var index = 0
            while index <= bytes.count - needle.count {
                if bytes[index] == needle[0] {
                    var offset = 1
                    while offset < needle.count && bytes[index + offset] == needle[offset] { offset += 1 }
                    if offset == needle.count { return true }
                }
                index += 1
            }
            return false
        }
    }

    /// The line breaks (real, or `\n` escapes inside a quoted string) at the start or end of a key body.
    private static func separators(in body: String, atEnd: Bool) -> String {
        var rest = Substring(body)
        var taken = ""
        while true {
            if atEnd {
                if let last = rest.last, last.isWhitespace {
                    taken = String(last) + taken
                    rest = rest.dropLast()
                } else if rest.hasSuffix("\\n") || rest.hasSuffix("\\r") {
                    taken = String(rest.suffix(2)) + taken
                    rest = rest.dropLast(2)
                } else {
                    return taken
                }
            } else {
                if let first = rest.first, first.isWhitespace {
                    taken.append(first)
                    rest = rest.dropFirst()
                } else if rest.hasPrefix("\\n") || rest.hasPrefix("\\r") {
                    taken += rest.prefix(2)
                    rest = rest.dropFirst(2)
                } else {
                    return taken
                }
            }
        }
    }

    /// Applied in order: structure first (key blocks, headers, credentials in URLs, named assignments), then
    /// token shapes anywhere, then high-entropy values.
    fileprivate static let rules: [Rule] = [
        // Authorization / Proxy-Authorization header values, keeping the scheme.
        Rule(
            #"(?i)\b((?:proxy-)?authorization\\?["']?[ \t]*[:=][ \t]*\\?["']?[ \t]*)"#
                + #"(?:((?:bearer|basic|token|digest|bot|negotiate|aws4-hmac-sha256|apikey)[ \t]+)([^\s"'`\\]+)"#
                + #"|((?=[^\s"'`\\]*\d)[^\s"'`\\]{8,}))"#
        ) { match in
            if !match[2].isEmpty {
                // `Bearer $TOKEN` names a variable, it is not a secret.
                return match[3].hasPrefix("$") || match[3] == marker ? nil : match[1] + match[2] + marker
            }
            return match[1] + marker
        },
        // curl/wget/httpie `-u user:password`: keep the user.
        Rule(
            #"(?<=[ \t])((?:-u|--user|--proxy-user|-U|-a|--auth)(?:[ \t]+|=)\\?["']?)([^\s:"'\\]+):([^\s"'\\]+)"#
        ) { match in
            guard match[3] != marker, isHTTPClientCommand(match.segmentBefore()) else { return nil }
            return match[1] + match[2] + ":" + marker
        },
        // Credentials in URLs: `scheme://user:password@host`, keeping the user.
        Rule(#"(?<![A-Za-z0-9+.\-])([A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@"'<>]*):([^\s/"'<>]+)@"#) { match in
            match[2] == marker ? nil : match[1] + ":" + marker + "@"
        },
        // JSON / YAML / headers: `"api_key": "…"`, `password: x`, `-H "X-Api-Key: …"`.
        Rule(
            #"(?m)((?:^|[{,\[]|["'])[ \t]*(?:-[ \t]+)?(\\?["']?)("# + secretNamePattern + #")\2[ \t]*:[ \t]*)("#
                + valuePattern + ")",
            options: [.caseInsensitive]
        ) { match in
            if isExcludedName(match[3]) { return nil }
            return redactValue(match[4], next: match.next).map { match[1] + $0 }
        },
        // Assignments and `--flag=value`: `FOO_TOKEN=abc`, `export DB_PASSWORD="x y"`, `?access_token=…`.
        Rule(
            #"(?<![A-Za-z0-9_.\-])((-{0,2}"# + secretNamePattern + #")[ \t]*=[ \t]*)(?!=)("# + valuePattern + ")",
            options: [.caseInsensitive]
        ) { match in
            if isExcludedName(match[2]) { return nil }
            return redactValue(match[3], next: match.next).map { match[1] + $0 }
        },
        // `--password value`, `--api-key value`.
        Rule(
            #"(?<![A-Za-z0-9_.\-])((--?"# + secretNamePattern + #")[ \t]+)(?!-)("# + valuePattern + ")",
            options: [.caseInsensitive]
        ) { match in
            if isExcludedName(match[2]) { return nil }
            let value = match[3]
            // `docker build --secret id=x,src=path` names a secret, it is not one.
            if let equals = value.firstIndex(of: "="), value[equals...].contains(where: { $0 != "=" }) { return nil }
            return redactValue(value, next: match.next).map { match[1] + $0 }
        },
        // `.env` lines whose upper-case name ends like a key: `STRIPE_KEY=…`, `SENTRY_DSN=…`.
        Rule(
            #"(?m)^([ \t]*(?:export[ \t]+)?[A-Z][A-Z0-9_]*_(?:KEY|PASS|DSN|SALT|AUTH|PAT)[ \t]*=[ \t]*)("#
                + valuePattern + ")"
        ) { match in
            redactValue(match[2], next: match.next).map { match[1] + $0 }
        },
        // Token shapes, anywhere.
        Rule(#"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}\b"#) { _ in marker },
        Rule(#"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"#) { _ in marker },
        Rule(#"\bglpat-[A-Za-z0-9_\-]{20,}"#) { _ in marker },
        Rule(#"\bxox[abposr]-[A-Za-z0-9\-]{10,}"#) { _ in marker },
        Rule(#"\bsk-ant-[A-Za-z0-9_\-]{20,}"#) { _ in marker },
        Rule(#"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|\bsk-[A-Za-z0-9]{20,}"#) { _ in marker },
        Rule(#"\bAIza[0-9A-Za-z_\-]{30,}"#) { _ in marker },
        Rule(#"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}"#) { _ in marker },
        Rule(#"\bnpm_[A-Za-z0-9]{36}\b"#) { _ in marker },
        Rule(#"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"#) { _ in marker },
        // High-entropy base64/hex runs of 32+ characters after `=` or `:`.
        Rule(
            #"((?:(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]+)\\?["']?[ \t]*)?[=:][ \t]*\\?["']?)([A-Za-z0-9+/_\-]{32,}={0,2})(?![A-Za-z0-9+/=_\-])"#
        ) { match in
            guard looksRandom(match[3], name: match[2], next: match.next) else { return nil }
            return match[1] + marker
        },
    ]
}
