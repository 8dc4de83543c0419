import ArgumentParser
import NIOCore
import NIOPosix
import PierCoAP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pier-sensor`: sensors and actuators as CoAP resources (Morabito et al., seed 003, §V-B).
@main
struct PierSensor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pier-sensor",
        abstract: "A CoAP server exposing sensors (GET, observe) and an LED actuator (PUT on/off).",
        discussion: """
            Resources: /sensors/NAME (GET, observe) and /actuators/led (GET, observe, PUT on|off).

            Without --device every value is SIMULATED: temperature, humidity and flame follow \
            synthetic curves, each payload says "source":"simulated","simulated":true, and each \
            resource's rt attribute includes "simulated". The LED is simulated unless --led-line is given.

            --device /dev/gpiochipN reads --input-line as a digital sensor (e.g. a flame detector) \
            through the Linux GPIO character device; --led-line drives the LED.
            --device /dev/ttyUSB0 (or any file or FIFO) reads lines of numbers, e.g. "21.4 48", as \
            the sensors named by --fields, in order.
            Example: coap-client-notls -s 30 coap://127.0.0.1/sensors/temperature
            """)

    @Option(help: "Address to listen on.")
    var host = "0.0.0.0"

    @Option(help: "UDP port to listen on (0 picks a free one; the bound port is printed).")
    var port = 5683

    @Option(help: "A GPIO chip (/dev/gpiochipN) or a serial port yielding lines of numbers. Without it, values are simulated.")
    var device: String?

    @Option(help: "With a GPIO chip: the input line offset read as a digital sensor.")
    var inputLine: UInt32 = 17

    @Option(help: "With a GPIO chip: the sensor name of the input line.")
    var inputName = "flame"

    @Option(help: "With a GPIO chip: the output line offset that drives the LED (otherwise the LED is simulated).")
    var ledLine: UInt32?

    @Option(help: "With a serial port: sensor names for the numbers on each line, as name[:unit], comma-separated.")
    var fields = "temperature:Cel,humidity:%RH"

    @Option(help: "With a serial tty: the baud rate.")
    var baud = 9600

    @Option(help: "Seconds between samples; observers are notified when a value changes.")
    var interval = 1.0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a UDP port (0–65535)") }
        guard interval >= 0.05, interval <= 3600 else { throw ValidationError("--interval must be between 0.05 and 3600 seconds") }
        for f in Self.parseFields(fields) where f.name.isEmpty || !f.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
            throw ValidationError("--fields: sensor name \"\(f.name)\" must be letters, digits, - or _")
        }
    }

    static func parseFields(_ text: String) -> [(name: String, unit: String)] {
        text.split(separator: ",").map { item in
            let parts = item.split(separator: ":", maxSplits: 1)
            return (String(parts.first ?? ""), parts.count > 1 ? String(parts[1]) : "")
        }
    }

    func run() async throws {
        let source: any SensorSource
        var ledGPIO: GPIOLine?
        do {
            if let device, device.hasPrefix("/dev/gpiochip") {
                source = GPIOSource(line: try GPIOLine(chip: device, offset: inputLine, direction: .input), name: inputName)
                if let ledLine { ledGPIO = try GPIOLine(chip: device, offset: ledLine, direction: .output) }
            } else if let device {
                let serial = try SerialLineSource(path: device, fields: Self.parseFields(fields), baud: baud)
                serial.start()
                source = serial
            } else {
                source = SimulatedSource()
            }
        } catch {
            throw ValidationError("\(error)")
        }
        let led = Actuator(name: "led", line: ledGPIO)
        let service = SensorService(source: source, led: led)
        _ = await service.sample()

        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
        } catch {
            throw ValidationError("cannot listen on udp \(host):\(port): \(error); is another CoAP server using the port?")
        }
        let endpoint = try await CoAPEndpoint.attach(to: channel, resources: service.resources)
        let kind = device == nil ? " (SIMULATED sensors: no --device given)" : " (device \(device ?? ""))"
        printLine("pier-sensor: listening on coap://\(host):\(channel.localAddress?.port ?? port)\(kind)")

        let sampler = Task {
            var ledState = led.isOn
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                for path in await service.sample() { endpoint.notifyChanged(path) }
                if led.isOn != ledState {
                    ledState = led.isOn
                    endpoint.notifyChanged("/actuators/led")
                }
            }
        }
        defer { sampler.cancel() }
        // As a container's PID 1 it gets no signal it does not handle: end at once on SIGTERM (a stop,
        // a removed service) and SIGINT instead of waiting out the stop's grace period.
        signal(SIGTERM) { _ in _exit(0) }
        signal(SIGINT) { _ in _exit(0) }
        try await channel.closeFuture.get()
    }
}

/// Writes a line to stdout unbuffered: whoever started us may be waiting for it on a pipe.
func printLine(_ text: String) {
    var bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}

func printError(_ text: String) {
    var bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
