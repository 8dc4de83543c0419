#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A serial port (or any character device, FIFO or file) that yields lines of numbers, such as a
/// microcontroller printing `21.4 48` once a second. The n-th number on a line is the n-th of
/// `fields`. A tty is put in raw mode at `baud`. Lines that are not numbers are skipped.
final class SerialLineSource: SensorSource, @unchecked Sendable {
    let sensors: [SensorDescriptor]
    private let fd: Int32
    private let latest = Mutex<[String: Double]>([:])
    private let path: String

    /// Opens `path` for reading; throws if it cannot be opened or configured.
    init(path: String, fields: [(name: String, unit: String)], baud: Int) throws(SensorError) {
        self.path = path
        sensors = fields.map { SensorDescriptor(name: $0.name, unit: $0.unit, source: "serial:\(path)") }
        fd = open(path, O_RDONLY | O_NOCTTY)
        guard fd >= 0 else { throw .open(path, errno: errno) }
        if isatty(fd) == 1 {
            var t = termios()
            guard tcgetattr(fd, &t) == 0 else { throw .configure(path, "tcgetattr", errno: errno) }
            cfmakeraw(&t)
            guard let speed = Self.speed(baud) else { throw .unsupportedBaud(baud) }
            cfsetispeed(&t, speed)
            cfsetospeed(&t, speed)
            t.c_cflag |= tcflag_t(CLOCAL | CREAD)
            guard tcsetattr(fd, TCSANOW, &t) == 0 else { throw .configure(path, "tcsetattr", errno: errno) }
        }
    }

    deinit { close(fd) }

    /// Reads lines until the process exits; runs on a thread of its own, since the reads block.
    func start() {
        let box = UnsafeSendable(self)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Box { box.value.readLoop() }).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<Box>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, context)
        if rc == 0 { pthread_detach(thread) } else { Unmanaged<Box>.fromOpaque(context).release() }
    }

    func sample(at time: Double) async throws -> [String: Double] { latest.withLock { $0 } }

    /// Applies one line of text; internal so tests can feed it directly.
    func apply(line: Substring) {
        let numbers = line.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" || $0 == ";" }).compactMap { Double($0) }
        guard !numbers.isEmpty else { return }
        latest.withLock { values in
            for (sensor, value) in zip(sensors, numbers) where value.isFinite { values[sensor.name] = value }
        }
    }

    private func readLoop() {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            if n == 0 {
                // End of a file or a FIFO without writer: wait for more, as `tail -f` does.
                usleep(200_000)
                continue
            }
            pending += buffer[0..<n]
            while let nl = pending.firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                apply(line: Substring(line))
            }
            // A device that never sends a newline must not grow this without bound.
            if pending.count > 4096 { pending.removeAll() }
        }
    }

    static func speed(_ baud: Int) -> speed_t? {
        let table: [Int: Int32] = [
            1200: B1200, 2400: B2400, 4800: B4800, 9600: B9600, 19200: B19200, 38400: B38400, 57600: B57600,
            115_200: B115200, 230_400: B230400,
        ]
        return table[baud].map { speed_t($0) }
    }
}

private final class Box {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

private struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
