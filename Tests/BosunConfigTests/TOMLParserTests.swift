import Foundation
import Testing

@testable import BosunConfig

/// `TOMLParser` against Python's `tomllib` (the reference TOML 1.0 reader): on every document of
/// the corpus both accept with equal values, or both refuse. `bound-*` documents exceed our
/// bounds (nesting depth) and must be refused with a clear error whatever tomllib says.
@Suite struct TOMLParserTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("TOMLCorpus")
    static let names: [String] =
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).filter { $0.hasSuffix(".toml") }
        .sorted()

    /// tomllib's reading as tagged JSON, or nil when it refuses the document.
    static func reference(_ path: String) throws -> Any? {
        let script = """
            import json, sys, tomllib, datetime, math
            def tag(v):
                if isinstance(v, bool): return {"bool": v}
                if isinstance(v, int): return {"int": str(v)}
                if isinstance(v, float): return {"float": "nan" if math.isnan(v) else repr(v)}
                if isinstance(v, str): return {"str": v}
                if isinstance(v, (datetime.datetime, datetime.date, datetime.time)): return {"datetime": True}
                if isinstance(v, list): return [tag(x) for x in v]
                return {"table": {k: tag(x) for k, x in v.items()}}
            try:
                doc = tomllib.load(open(sys.argv[1], "rb"))
            except tomllib.TOMLDecodeError:
                print("null"); sys.exit(0)
            print(json.dumps(tag(doc)))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        return object is NSNull ? nil : object
    }

    /// Ours in the same tagged shape.
    static func tagged(_ value: ConfigValue) -> Any {
        switch value {
        case .bool(let flag): return ["bool": flag]
        case .integer(let number): return ["int": String(number)]
        case .double(let number): return ["float": number.isNaN ? "nan" : Self.pythonRepr(number)]
        case .string(let text): return ["str": text]
        case .datetime: return ["datetime": true]
        case .array(let items): return items.map(tagged)
        case .table(let table): return ["table": table.mapValues(tagged)]
        }
    }

    static func pythonRepr(_ number: Double) -> String {
        if number.isInfinite { return number < 0 ? "-inf" : "inf" }
        return String(number)
    }

    /// The parser's one-pass UTF-8 decoding gives the string's own scalars (issue 10), for ASCII and
    /// 2-, 3- and 4-byte sequences, combining marks and every corpus document.
    @Test func decodesScalarsAsTheScalarView() throws {
        var texts = [
            "", "plain", "caf\u{e9}", "\u{2500}\u{2026} box", "\u{1F600} emoji \u{10FFFF}", "e\u{301}",
            "\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}",
        ]
        for name in Self.names {
            texts.append(try String(contentsOfFile: Self.corpus.appendingPathComponent(name).path, encoding: .utf8))
        }
        for text in texts {
            #expect(TOMLParser.scalars(of: text) == Array(text.unicodeScalars))
        }
    }

    @Test(arguments: names)
    func agreesWithTomllib(_ name: String) throws {
        let path = Self.corpus.appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let ours = Result { () throws(TOMLParser.SyntaxError) in try TOMLParser.parse(text) }
        if name.hasPrefix("bound-") {
            guard case .failure(let error) = ours else {
                Issue.record("\(name): accepted beyond our bounds")
                return
            }
            #expect(error.description.contains("line"))
            return
        }
        let reference = try Self.reference(path)
        switch (ours, reference) {
        case (.success(let table), let expected?):
            let mine = try JSONSerialization.data(
                withJSONObject: Self.tagged(.table(table)), options: [.sortedKeys, .fragmentsAllowed])
            let theirs = try JSONSerialization.data(
                withJSONObject: expected, options: [.sortedKeys, .fragmentsAllowed])
            #expect(
                String(decoding: mine, as: UTF8.self) == String(decoding: theirs, as: UTF8.self),
                "\(name): values differ from tomllib")
        case (.failure(let error), nil):
            #expect(error.line >= 1 && error.column >= 1, "\(name): \(error)")
        case (.success, nil):
            Issue.record("\(name): we accept what tomllib refuses")
        case (.failure(let error), _?):
            Issue.record("\(name): we refuse what tomllib accepts: \(error)")
        }
        // Every corpus document also starts with the expected prefix: v- valid, i- invalid.
        #expect(name.hasPrefix("v-") == (reference != nil), "\(name): name says valid/invalid wrongly")
    }
}
