import BosunConfig
import BosunCore
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One URLSession per target (its own timeouts; TLS through the platform's stack for https://).
final class URLSessionBox: Sendable {
    let session: URLSession

    init(timeout: Double) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
    }

    /// The response status, or the error's text (which never includes the URL). Cancelling the
    /// calling task cancels the request.
    func send(_ request: URLRequest) async -> Result<Int, NotifyDeliveryError> {
        let handle = CancelHandle()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let task = session.dataTask(with: request) { _, response, error in
                    if let error {
                        let code = (error as NSError).code
                        continuation.resume(
                            returning: .failure(NotifyDeliveryError("HTTP request failed (error \(code))")))
                    } else if let http = response as? HTTPURLResponse {
                        continuation.resume(returning: .success(http.statusCode))
                    } else {
                        continuation.resume(returning: .failure(NotifyDeliveryError("no HTTP response")))
                    }
                }
                handle.set { task.cancel() }
                task.resume()
            }
        } onCancel: {
            handle.cancel()
        }
    }
}

/// Runs a cancel action once, whether cancellation comes before or after the action is known.
final class CancelHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var action: (@Sendable () -> Void)?
    private var cancelled = false

    func set(_ action: @escaping @Sendable () -> Void) {
        let now: Bool = lock.withLock {
            self.action = action
            return cancelled
        }
        if now { action() }
    }

    func cancel() {
        let action: (@Sendable () -> Void)? = lock.withLock {
            cancelled = true
            return self.action
        }
        action?()
    }
}

/// A child's exit status, awaited without holding a thread.
final class ExitWaiter: @unchecked Sendable {
    private let lock = NSLock()
    private var status: Int32?
    private var waiter: CheckedContinuation<Int32, Never>?

    var exited: Bool { lock.withLock { status != nil } }

    func finish(_ value: Int32) {
        let waiter: CheckedContinuation<Int32, Never>? = lock.withLock {
            status = value
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(returning: value)
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done: Int32? = lock.withLock {
                if let status { return status }
                waiter = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

struct NotifyDeliveryError: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension NotifyTarget {
    /// One delivery attempt; nil when it was accepted, else why not (without the URL).
    func send(_ message: NoticeMessage) async -> String? {
        switch config.kind {
        case .webhook:
            guard let request = webhookRequest(message) else { return "invalid URL" }
            return await post(request)
        case .ntfy:
            guard let request = ntfyRequest(message) else { return "invalid URL" }
            return await post(request)
        case .command:
            return await runCommand(message.json)
        }
    }

    private func post(_ request: URLRequest) async -> String? {
        switch await session.send(request) {
        case .success(let status) where (200..<300).contains(status): return nil
        case .success(let status): return "HTTP \(status)"
        case .failure(let error): return error.description
        }
    }

    func webhookRequest(_ message: NoticeMessage) -> URLRequest? {
        guard let text = config.url, let url = URL(string: text) else { return nil }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("bosund/\(Supervisor.version)", forHTTPHeaderField: "User-Agent")
        for (name, value) in config.headers { request.setValue(value, forHTTPHeaderField: name) }
        if let template = config.template {
            request.httpBody = Data(Self.fill(template, message).utf8)
        } else {
            request.httpBody = message.json
        }
        return request
    }

    /// `{{title}}`, `{{text}}`, `{{event}}`, `{{target}}`, `{{priority}}`, `{{json}}` and the first
    /// item's `{{host}}`, `{{number}}`, `{{thread}}`, `{{tier}}`, `{{command}}`, `{{summary}}`,
    /// `{{act}}`: each replaced by its JSON-escaped value without the quotes.
    static func fill(_ template: String, _ message: NoticeMessage) -> String {
        let first = message.items.first
        let values: [String: String] = [
            "title": message.title, "text": message.text, "event": message.event, "target": message.target,
            "priority": String(message.priority), "json": String(decoding: message.json, as: UTF8.self),
            "host": first?.host.rawValue ?? "", "number": first?.number.map(String.init) ?? "",
            "thread": first?.thread?.rawValue ?? "",
            "tier": first?.tier ?? "", "command": first?.command ?? "", "summary": first?.summary ?? "",
            "act": first?.act ?? "",
        ]
        var result = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                rest = rest[open.lowerBound...]
                break
            }
            let key = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if let value = values[key] {
                result += jsonEscaped(value)
            } else {
                result += rest[open.lowerBound..<close.upperBound]
            }
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

    static func jsonEscaped(_ text: String) -> String {
        guard let data = try? JSONEncoder().encode(text) else { return "" }
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

    /// ntfy's publish-by-header shape: the body is the text; `Title`, `Priority` (1…5 by tier),
    /// `Tags`, `Click` and a `view` action button are headers (RFC 2047 when not ASCII).
    func ntfyRequest(_ message: NoticeMessage) -> URLRequest? {
        guard let text = config.url, let url = URL(string: text) else { return nil }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("text/plain; charset=utf-8", forHTTPHeaderField: "Content-Type")
        request.setValue("bosund/\(Supervisor.version)", forHTTPHeaderField: "User-Agent")
        request.setValue(Self.headerValue(message.title), forHTTPHeaderField: "Title")
        request.setValue(String(message.priority), forHTTPHeaderField: "Priority")
        var tags = ["bosun", message.event]
        if let tier = message.items.first?.tier { tags.append(tier) }
        request.setValue(tags.joined(separator: ","), forHTTPHeaderField: "Tags")
        if let click = config.click {
            let number = message.items.first?.number.map(String.init) ?? ""
            let target = Self.headerValue(click.replacingOccurrences(of: "{number}", with: number))
            request.setValue(target, forHTTPHeaderField: "Click")
            // An action button too (ntfy's short `view, LABEL, URL` form, which has no quoting).
            if !target.contains(",") && !target.contains(";") {
                let label = number.isEmpty ? "Open" : "Review #\(number)"
                request.setValue("view, \(label), \(target)", forHTTPHeaderField: "Actions")
            }
        }
        for (name, value) in config.headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Data(Self.bounded(message.text, bytes: Self.ntfyBodyLimit).utf8)
        return request
    }

    /// ntfy turns a longer body into an attachment; a digest is cut to fit instead.
    static let ntfyBodyLimit = 4000

    /// `text` cut at a character boundary to at most `bytes` UTF-8 bytes, saying so.
    static func bounded(_ text: String, bytes: Int) -> String {
        guard text.utf8.count > bytes else { return text }
        let marker = "\n… (cut; see the queue)"
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            guard used + size + marker.utf8.count <= bytes else { break }
            result.append(character)
            used += size
        }
        return result + marker
    }

    /// Printable ASCII as is; anything else as an RFC 2047 encoded word (which ntfy decodes).
    static func headerValue(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) { return text }
        return "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?="
    }

    /// Runs the command with `body` on stdin; success is exit status 0 within `timeout`. A child
    /// still running at the timeout, or when the notifier stops, is killed (by its PID).
    private func runCommand(_ body: Data) async -> String? {
        guard let argv = config.command, let program = argv.first else { return "no command" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = Array(argv.dropFirst())
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        // Not bosund's environment (SSH_AUTH_SOCK would hand it the agent that reaches the hosts).
        let inherited = ProcessInfo.processInfo.environment
        var environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "BOSUN_NOTIFY_TARGET": config.name,
        ]
        for name in ["HOME", "TZ"] { environment[name] = inherited[name] }
        process.environment = environment
        let exit = ExitWaiter()
        process.terminationHandler = { exit.finish($0.terminationStatus) }
        do {
            try process.run()
        } catch {
            return "cannot run \((program as NSString).lastPathComponent)"
        }
        let pid = process.processIdentifier
        let stop: @Sendable () -> Void = { if !exit.exited { kill(pid, SIGKILL) } }
        // A child that does not read its input must not hold a pool thread.
        let writer = input.fileHandleForWriting
        Thread {
            try? writer.write(contentsOf: body)
            try? writer.close()
        }.start()
        let timeout = config.timeout
        let timer = Task {
            do {
                try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                stop()
            } catch {}
        }
        let status = await withTaskCancellationHandler {
            await exit.wait()
        } onCancel: {
            stop()
        }
        timer.cancel()
        if process.terminationReason == .uncaughtSignal { return "command killed (signal \(status))" }
        return status == 0 ? nil : "command exited with status \(status)"
    }
}
