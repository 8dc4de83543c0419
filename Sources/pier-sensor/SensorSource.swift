/// Where sensor values come from. A second kind of device is a new conforming type.
protocol SensorSource: Sendable {
    /// The sensors this source provides.
    var sensors: [SensorDescriptor] { get }
    /// Reads every sensor now; a sensor without a fresh value is left out.
    func sample(at time: Double) async throws -> [String: Double]
}

/// A simulated source, used when no `--device` is given: temperature and humidity follow slow
/// sine waves with a little deterministic noise, and a flame detector reports 0. Every value is
/// labelled `"source":"simulated"`, and the resources carry `rt="… simulated"`.
struct SimulatedSource: SensorSource {
    let sensors = [
        SensorDescriptor(name: "temperature", unit: "Cel", source: "simulated"),
        SensorDescriptor(name: "humidity", unit: "%RH", source: "simulated"),
        SensorDescriptor(name: "flame", unit: "", source: "simulated"),
    ]

    func sample(at time: Double) async throws -> [String: Double] {
        // A cheap sine (Bhaskara's approximation) keeps this module free of Foundation.
        func wave(_ period: Double) -> Double {
            let x = (time / period).truncatingRemainder(dividingBy: 1) * 2 * Double.pi
            let y = x <= .pi ? x : x - .pi
            let s = 16 * y * (.pi - y) / (5 * .pi * .pi - 4 * y * (.pi - y))
            return x <= .pi ? s : -s
        }
        let noise = Double(UInt64(time * 10).multipliedFullWidth(by: 0x9E37_79B9_7F4A_7C15).low % 100) / 1000
        return [
            "temperature": ((21.5 + 2.5 * wave(600) + noise) * 10).rounded() / 10,
            "humidity": ((45 + 10 * wave(900) + noise * 10) * 10).rounded() / 10,
            "flame": 0,
        ]
    }
}
