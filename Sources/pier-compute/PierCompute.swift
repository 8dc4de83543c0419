import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import PierCoAP

/// `pier-compute`: the CoAP compute service of Morabito et al. (seed 003).
@main
struct PierCompute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pier-compute",
        abstract: "A CoAP server computing the average, merge sort and bubble sort of integer arrays.",
        discussion: """
            PUT or POST a JSON array ([3,1,2]) or comma- or space-separated integers to /average, \
            /mergesort or /bubblesort. Large inputs go block-wise (Block1), large results come back \
            in Block2 blocks. /.well-known/core lists the resources. Example:
              coap-client-notls -m put -e '[5,3,9,1]' coap://127.0.0.1/mergesort
            """)

    @Option(help: "Address to listen on.")
    var host = "0.0.0.0"

    @Option(help: "UDP port to listen on (0 picks a free one; the bound port is printed).")
    var port = 5683

    @Option(help: "Integers accepted by /average and /mergesort.")
    var maxItems = 100_000

    @Option(help: "Integers accepted by /bubblesort (its cost grows with the square).")
    var maxBubbleSortItems = 20_000

    @Option(help: "Largest request body accepted block-wise, in bytes; more is answered 4.13.")
    var maxBodyBytes = 1 << 20

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a UDP port (0–65535)") }
        guard maxItems > 0, maxBubbleSortItems > 0, maxBodyBytes > 0 else {
            throw ValidationError("--max-items, --max-bubble-sort-items and --max-body-bytes must be positive")
        }
    }

    func run() async throws {
        var service = ComputeService.Configuration()
        service.maxItems = maxItems
        service.maxBubbleSortItems = maxBubbleSortItems
        var endpoint = CoAPEndpoint.Configuration()
        endpoint.block1.maxBodySize = maxBodyBytes
        // The sort of a large array may take a moment in debug builds; do not acknowledge early for it.
        endpoint.separateResponseDelay = 1

        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
        } catch {
            throw ValidationError("cannot listen on udp \(host):\(port): \(error); is another CoAP server using the port?")
        }
        _ = try await CoAPEndpoint.attach(
            to: channel, resources: ComputeService(configuration: service).resources, configuration: endpoint)
        // Unbuffered: whoever started us (a test, a supervisor) may be waiting for this line on a pipe.
        var line = Array("pier-compute: listening on coap://\(host):\(channel.localAddress?.port ?? port)\n".utf8)
        _ = line.withUnsafeMutableBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        // As a container's PID 1 it gets no signal it does not handle: end at once on SIGTERM (a stop,
        // a removed service) and SIGINT instead of waiting out the stop's grace period.
        signal(SIGTERM) { _ in _exit(0) }
        signal(SIGINT) { _ in _exit(0) }
        try await channel.closeFuture.get()
    }
}
