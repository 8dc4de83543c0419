import ArgumentParser

/// `pier coap …`: the CoAP interface's clients.
struct CoAPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coap",
        abstract: "Manage the clients of the CoAP interface (--coap, --coap-keys).",
        subcommands: [CoAPClientCommand.self]
    )
}

/// `pier coap client …`.
struct CoAPClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Create CoAP clients: OSCORE contexts with a scope.",
        subcommands: [CoAPClientCreate.self]
    )
}
