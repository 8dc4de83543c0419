#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a device could not be used.
enum SensorError: Error, CustomStringConvertible {
    case open(String, errno: Int32)
    case configure(String, String, errno: Int32)
    case unsupportedBaud(Int)
    case gpio(String, String, errno: Int32)

    var description: String {
        switch self {
        case .open(let p, let e):
            "cannot open device \(p): \(String(cString: strerror(e))); check the path and that the container was given the device"
        case .configure(let p, let call, let e): "cannot configure serial port \(p) (\(call)): \(String(cString: strerror(e)))"
        case .unsupportedBaud(let b): "baud rate \(b) is not supported; use 9600, 19200, 38400, 57600 or 115200"
        case .gpio(let p, let what, let e):
            "GPIO chip \(p): \(what) failed: \(String(cString: strerror(e))); check the line offset with `gpioinfo` and that no other program holds it"
        }
    }
}
