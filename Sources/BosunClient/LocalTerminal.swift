import BosunCore
public import BosunTerminal
import FoundationEssentials

#if canImport(Glibc)
    public import Glibc
#endif

/// The local TTY as the prompt loop's terminal: raw input (no echo, no line discipline, Ctrl-C as a
/// byte), output processing kept (`\n` still becomes CRLF). The saved settings are restored by
/// `restore()`, at exit, and before a terminating signal (SIGTERM, SIGHUP, SIGINT, SIGQUIT) takes
/// the process down, so the operator's terminal is never left raw.
public final class LocalTerminal: PromptTerminal, @unchecked Sendable {
    public let input: Int32
    private let output: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Puts `input` in raw mode; nil when it is not a terminal (or the pipe for wake-ups fails).
    public init?(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) {
        guard isatty(input) != 0 else { return nil }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        self.input = input
        self.output = output
        wakeRead = fds[0]
        wakeWrite = fds[1]
        guard RawMode.enter(input) else {
            Glibc.close(wakeRead)
            Glibc.close(wakeWrite)
            return nil
        }
    }

    deinit {
        restore()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    /// Puts the terminal back as it was.
    public func restore() {
        RawMode.leave()
    }

    public func read() -> TerminalInput {
        var fds = [
            pollfd(fd: input, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let n = poll(&fds, 2, -1)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .eof }
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while Glibc.read(wakeRead, &drain, drain.count) > 0 {}
                return .woken
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = Glibc.read(input, &buffer, buffer.count)
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard count > 0 else { return .eof }
            return .data(Array(buffer[0..<count]))
        }
    }

    public func write(_ text: String) {
        FileDescriptor.writeAll(output, Array(text.utf8))
    }

    public var columns: Int? {
        var size = winsize()
        guard ioctl(output, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    public var waker: @Sendable () -> Void {
        let fd = wakeWrite
        return {
            var byte: UInt8 = 1
            _ = Glibc.write(fd, &byte, 1)
        }
    }
}

/// The terminal settings saved before raw mode, for the signal handlers (which may only use
/// async-signal-safe calls: `tcsetattr`, `signal`, `raise`).
nonisolated(unsafe) private var savedSettings = termios()
nonisolated(unsafe) private var savedDescriptor: Int32 = -1

/// Raw mode of one terminal at a time, restored on every way out.
enum RawMode {
    static let signals: [Int32] = [SIGTERM, SIGHUP, SIGINT, SIGQUIT]

    static func enter(_ fd: Int32) -> Bool {
        var settings = termios()
        guard tcgetattr(fd, &settings) == 0 else { return false }
        savedSettings = settings
        savedDescriptor = fd
        var raw = settings
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | INLCR | IGNCR | ISTRIP | BRKINT)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        for number in signals {
            signal(number) { number in
                if savedDescriptor >= 0 { tcsetattr(savedDescriptor, TCSANOW, &savedSettings) }
                signal(number, SIG_DFL)
                raise(number)
            }
        }
        atexit {
            if savedDescriptor >= 0 { tcsetattr(savedDescriptor, TCSANOW, &savedSettings) }
        }
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else {
            leave()
            return false
        }
        return true
    }

    static func leave() {
        guard savedDescriptor >= 0 else { return }
        tcsetattr(savedDescriptor, TCSANOW, &savedSettings)
        savedDescriptor = -1
        for number in signals { signal(number, SIG_DFL) }
    }
}
