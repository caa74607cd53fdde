import BosunClient
import BosunCore
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

// `bosun`: a thin client. Local commands (check, shell, completion, operators authorized-keys,
// policy explain --config) are an argument-parser tree; every other command line goes to bosund
// over the control socket as it is, so each surface behaves the same.
SignalMask.unblockAll()
exit(BosunCommand.main(arguments: Array(CommandLine.arguments.dropFirst())))
