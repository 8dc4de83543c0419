#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an attached stream's output goes: the terminal in `pier`, a buffer in tests.
public protocol StreamOutput: Sendable {
    func writeStdout(_ bytes: [UInt8])
    func writeStderr(_ bytes: [UInt8])
}

/// The process's own stdout and stderr, written unbuffered so output interleaves as the container wrote it.
public struct StandardStreams: StreamOutput {
    public init() {}
    public func writeStdout(_ bytes: [UInt8]) { Self.writeAll(bytes, to: 1) }
    public func writeStderr(_ bytes: [UInt8]) { Self.writeAll(bytes, to: 2) }

    /// Writes all of `bytes` to `fd`, retrying short writes; a closed pipe drops the rest.
    public static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBytes { raw in
            guard var base = raw.baseAddress else { return }
            var left = raw.count
            while left > 0 {
                let n = systemWrite(fd, base, left)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return
                }
                left -= n
                base += n
            }
        }
    }

    /// Writes a string to stdout.
    public static func print(_ text: String) { writeAll(Array(text.utf8), to: 1) }
    /// Writes a string to stderr.
    public static func printError(_ text: String) { writeAll(Array(text.utf8), to: 2) }
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
