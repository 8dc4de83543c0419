/// One sensor as `pier-sensor` serves it: a name, a unit, and where its values come from.
struct SensorDescriptor: Sendable, Hashable {
    /// `temperature` → `/sensors/temperature`.
    var name: String
    /// A SenML unit (RFC 8428 §12.1): `Cel`, `%RH`, or empty for a digital 0/1 level.
    var unit: String
    /// Where values come from: `simulated`, `serial:/dev/ttyUSB0`, `gpio:/dev/gpiochip0:17`.
    var source: String

    var path: String { "/sensors/" + name }
    var isSimulated: Bool { source == "simulated" }
}

/// The latest value of a sensor, with the time it was read (seconds since the service started).
struct SensorReading: Sendable, Hashable {
    var value: Double
    var time: Double
}

/// Renders readings and actuator states as small JSON objects; the `source` field says whether
/// a value is real or simulated.
enum SensorJSON {
    static func reading(_ sensor: SensorDescriptor, _ reading: SensorReading?) -> String {
        var fields = ["\"sensor\":\(string(sensor.name))"]
        if let reading {
            fields.append("\"value\":\(number(reading.value))")
            fields.append("\"time\":\(number((reading.time * 1000).rounded() / 1000))")
        } else {
            fields.append("\"value\":null")
        }
        if !sensor.unit.isEmpty { fields.append("\"unit\":\(string(sensor.unit))") }
        fields.append("\"source\":\(string(sensor.source))")
        if sensor.isSimulated { fields.append("\"simulated\":true") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func actuator(_ name: String, on: Bool, source: String) -> String {
        var s = "{\"actuator\":\(string(name)),\"state\":\(on ? "\"on\"" : "\"off\""),\"source\":\(string(source))"
        if source == "simulated" { s += ",\"simulated\":true" }
        return s + "}"
    }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return "\(v)"
    }

    static func string(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += (c.value < 0x10 ? "\\u000" : "\\u00") + String(c.value, radix: 16)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}
