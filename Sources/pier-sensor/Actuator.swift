import Synchronization

/// An on/off actuator, the LED of `/actuators/led`: a GPIO output line, or a simulated one that
/// only remembers its state.
final class Actuator: Sendable {
    let name: String
    /// `simulated`, or `gpio:/dev/gpiochip0:18`.
    let source: String
    private let line: GPIOLine?
    private let state = Mutex(false)

    init(name: String, line: GPIOLine?) {
        self.name = name
        self.line = line
        self.source = line.map { "gpio:\($0.chip):\($0.offset)" } ?? "simulated"
    }

    var isOn: Bool { state.withLock { $0 } }

    /// Switches the actuator; the state changes only if the device accepted it.
    func set(_ on: Bool) throws(SensorError) {
        try line?.set(on)
        state.withLock { $0 = on }
    }

    /// `on`/`off`, `1`/`0`, `true`/`false`, or JSON `{"state":"on"}`; nil for anything else.
    static func parse(_ body: [UInt8]) -> Bool? {
        var text = String(decoding: body, as: UTF8.self).lowercased().filter { !$0.isWhitespace }
        if text.hasPrefix("{\"state\":"), text.hasSuffix("}") {
            text = String(text.dropFirst(9).dropLast()).filter { $0 != "\"" }
        }
        switch text {
        case "on", "1", "true": return true
        case "off", "0", "false": return false
        default: return nil
        }
    }
}
