import PierCoAP
import Synchronization

/// The CoAP resources of `pier-sensor`: each sensor at `/sensors/NAME` (GET, observe) and the
/// LED at `/actuators/led` (GET, observe, PUT on/off). Values are sampled every `interval`
/// seconds; observers are notified when a value changes.
final class SensorService: Sendable {
    let source: any SensorSource
    let led: Actuator
    private let readings = Mutex<[String: SensorReading]>([:])
    private let start = ContinuousClock.now

    init(source: any SensorSource, led: Actuator) {
        self.source = source
        self.led = led
    }

    var elapsed: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    var resources: [CoAPResource] {
        let json = [CoAPOption(.contentFormat, uint: CoAPContentFormat.json)]
        var list = source.sensors.map { sensor in
            CoAPResource(
                path: sensor.path, resourceTypes: Self.resourceTypes("pier.sensor.\(sensor.name)", simulated: sensor.isSimulated),
                interfaces: ["core.s"], contentFormats: [CoAPContentFormat.json],
                title: sensor.isSimulated ? "simulated \(sensor.name) (no --device given)" : "\(sensor.name) from \(sensor.source)",
                observable: true
            ) { [self] request in
                guard request.method == .get else {
                    return CoAPResponse(code: .methodNotAllowed, diagnostic: "\(sensor.path) is a sensor: GET or observe it")
                }
                let reading = readings.withLock { $0[sensor.name] }
                return CoAPResponse(code: .content, options: json, payload: Array(SensorJSON.reading(sensor, reading).utf8))
            }
        }
        let led = self.led
        list.append(
            CoAPResource(
                path: "/actuators/led", resourceTypes: Self.resourceTypes("pier.actuator.led", simulated: led.source == "simulated"),
                interfaces: ["core.a"], contentFormats: [CoAPContentFormat.json],
                title: led.source == "simulated" ? "simulated LED (no GPIO line given)" : "LED on \(led.source)", observable: true
            ) { request in
                switch request.method {
                case .get:
                    return CoAPResponse(code: .content, options: json, payload: Array(SensorJSON.actuator("led", on: led.isOn, source: led.source).utf8))
                case .put, .post:
                    guard let on = Actuator.parse(request.payload) else {
                        return CoAPResponse(
                            code: .badRequest, diagnostic: "/actuators/led takes \"on\" or \"off\" (or 1/0, true/false, {\"state\":\"on\"})")
                    }
                    do {
                        try led.set(on)
                    } catch {
                        return CoAPResponse(code: .internalServerError, diagnostic: "\(error)")
                    }
                    return CoAPResponse(code: .changed, options: json, payload: Array(SensorJSON.actuator("led", on: on, source: led.source).utf8))
                default:
                    return CoAPResponse(code: .methodNotAllowed, diagnostic: "/actuators/led answers GET and PUT on/off")
                }
            })
        return list
    }

    static func resourceTypes(_ type: String, simulated: Bool) -> [String] { simulated ? [type, "simulated"] : [type] }

    /// Reads the source once; returns the paths whose value changed.
    func sample() async -> [String] {
        let now = elapsed
        let values: [String: Double]
        do {
            values = try await source.sample(at: now)
        } catch {
            printError("pier-sensor: \(error)")
            return []
        }
        return readings.withLock { readings in
            var changed: [String] = []
            for sensor in source.sensors {
                guard let v = values[sensor.name] else { continue }
                if readings[sensor.name]?.value != v { changed.append(sensor.path) }
                readings[sensor.name] = SensorReading(value: v, time: now)
            }
            return changed
        }
    }
}
