#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of a GPIO chip, requested through the Linux GPIO character device uAPI v2
/// (`linux/gpio.h`: `GPIO_V2_GET_LINE_IOCTL`, then `GPIO_V2_LINE_GET_VALUES_IOCTL` /
/// `GPIO_V2_LINE_SET_VALUES_IOCTL` on the returned line fd). No sysfs, no libgpiod.
///
/// ```
/// struct gpio_v2_line_request (592 bytes)       struct gpio_v2_line_config (272 bytes, at 288)
///   0  u32 offsets[64]                            0  u64 flags   (INPUT 1<<2, OUTPUT 1<<3)
/// 256  char consumer[32]                          8  u32 num_attrs
/// 288  gpio_v2_line_config config                12  u32 padding[5]
/// 560  u32 num_lines                             32  gpio_v2_line_config_attribute attrs[10]
/// 564  u32 event_buffer_size
/// 568  u32 padding[5]                           struct gpio_v2_line_values (16 bytes)
/// 588  s32 fd   (filled in by the kernel)         0  u64 bits    8  u64 mask
/// ```
final class GPIOLine: @unchecked Sendable {
    enum Direction { case input, output }

    static let requestSize = 592
    static let getLineIoctl: UInt = 0xC250_B407  // _IOWR(0xB4, 0x07, struct gpio_v2_line_request)
    static let getValuesIoctl: UInt = 0xC010_B40E  // _IOWR(0xB4, 0x0E, struct gpio_v2_line_values)
    static let setValuesIoctl: UInt = 0xC010_B40F  // _IOWR(0xB4, 0x0F, struct gpio_v2_line_values)
    static let flagInput: UInt64 = 1 << 2
    static let flagOutput: UInt64 = 1 << 3

    /// libc's `ioctl` with a pointer argument. Swift does not import C variadic functions, so it is
    /// looked up once and called through a fixed signature (the ABI of a pointer-sized third
    /// argument is the same on the Linux targets we build for: x86_64, aarch64, armv7).
    private typealias IoctlFunction = @convention(c) (Int32, UInt, UnsafeMutableRawPointer?) -> Int32
    private static let ioctlFunction: IoctlFunction? = dlsym(nil, "ioctl").map { unsafeBitCast($0, to: IoctlFunction.self) }

    private static func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer?) -> Int32 {
        guard let f = ioctlFunction else {
            errno = ENOSYS
            return -1
        }
        return f(fd, request, argument)
    }

    let chip: String
    let offset: UInt32
    private let fd: Int32

    /// Requests line `offset` of `chip` (e.g. `/dev/gpiochip0`) as an input or output.
    init(chip: String, offset: UInt32, direction: Direction, consumer: String = "pier-sensor") throws(SensorError) {
        self.chip = chip
        self.offset = offset
        let chipFD = open(chip, O_RDWR | O_CLOEXEC)
        guard chipFD >= 0 else { throw .open(chip, errno: errno) }
        defer { close(chipFD) }
        var request = [UInt8](repeating: 0, count: Self.requestSize)
        let (rc, lineFD) = request.withUnsafeMutableBytes { raw -> (Int32, Int32) in
            raw.storeBytes(of: offset, toByteOffset: 0, as: UInt32.self)
            for (i, b) in consumer.utf8.prefix(31).enumerated() { raw[256 + i] = b }
            raw.storeBytes(of: direction == .input ? Self.flagInput : Self.flagOutput, toByteOffset: 288, as: UInt64.self)
            raw.storeBytes(of: UInt32(1), toByteOffset: 560, as: UInt32.self)
            let rc = Self.ioctl(chipFD, Self.getLineIoctl, raw.baseAddress)
            return (rc, raw.load(fromByteOffset: 588, as: Int32.self))
        }
        guard rc == 0, lineFD >= 0 else { throw .gpio(chip, "requesting line \(offset)", errno: errno) }
        fd = lineFD
    }

    deinit { close(fd) }

    /// The line's current level, 0 or 1.
    func get() throws(SensorError) -> Int {
        var values: (UInt64, UInt64) = (0, 1)
        let rc = withUnsafeMutableBytes(of: &values) { Self.ioctl(fd, Self.getValuesIoctl, $0.baseAddress) }
        guard rc == 0 else { throw .gpio(chip, "reading line \(offset)", errno: errno) }
        return Int(values.0 & 1)
    }

    /// Drives an output line high or low.
    func set(_ high: Bool) throws(SensorError) {
        var values: (UInt64, UInt64) = (high ? 1 : 0, 1)
        let rc = withUnsafeMutableBytes(of: &values) { Self.ioctl(fd, Self.setValuesIoctl, $0.baseAddress) }
        guard rc == 0 else { throw .gpio(chip, "setting line \(offset)", errno: errno) }
    }
}

/// A digital sensor on a GPIO input line: a flame detector's comparator output, a switch.
struct GPIOSource: SensorSource {
    let line: GPIOLine
    let sensors: [SensorDescriptor]

    init(line: GPIOLine, name: String) {
        self.line = line
        sensors = [SensorDescriptor(name: name, unit: "", source: "gpio:\(line.chip):\(line.offset)")]
    }

    func sample(at time: Double) async throws -> [String: Double] {
        [sensors[0].name: Double(try line.get())]
    }
}
