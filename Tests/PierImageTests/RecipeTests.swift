import Foundation
import PierOCI
import Testing
@testable import PierImage

@Suite("Recipe")
struct RecipeTests {
    static let sample = """
    # A CoAP sensor service.
    FROM base:1

    WORKDIR /srv
    COPY --with-libs bin/server ./
    COPY etc/ /etc/sensor/
    ADD data.txt \\
        notes.txt \\
        /srv/data/
    ENV MODE=edge LEVEL="very high"
    ENV LEGACY value with spaces
    LABEL org.example.role=sensor "org.example.note"="two words"
    EXPOSE 5683/udp 8080
    USER 1000:1000
    STOPSIGNAL SIGINT
    ENTRYPOINT ["/srv/server", "--port", "5683"]
    CMD echo $MODE
    """

    @Test("a recipe parses into base, layers and config changes")
    func parses() throws {
        let recipe = try Recipe.parse(Self.sample)
        #expect(recipe.base == .image("base:1"))
        #expect(recipe.copies.map(\.sources) == [["bin/server"], ["etc/"], ["data.txt", "notes.txt"]])
        #expect(recipe.copies.map(\.destination) == ["/srv/", "/etc/sensor/", "/srv/data/"])
        #expect(recipe.copies.map(\.withLibs) == [true, false, false])
        #expect(recipe.copies.map(\.line) == [5, 6, 7])
        #expect(recipe.changes.workingDir == "/srv")
        #expect(recipe.changes.env == [EnvironmentVariable("MODE", "edge"), EnvironmentVariable("LEVEL", "very high"),
                                       EnvironmentVariable("LEGACY", "value with spaces")])
        #expect(recipe.changes.labels == ["org.example.role": "sensor", "org.example.note": "two words"])
        #expect(recipe.changes.exposedPorts == ["5683/udp", "8080/tcp"])
        #expect(recipe.changes.user == "1000:1000")
        #expect(recipe.changes.stopSignal == "SIGINT")
        #expect(recipe.changes.entrypoint == ["/srv/server", "--port", "5683"])
        #expect(recipe.changes.cmd == ["/bin/sh", "-c", "echo $MODE"])
    }

    @Test("bad recipes are refused with the line number", arguments: [
        ("FROM scratch\nRUN make\n", 2, "RUN is not supported: pier builds images without running containers"),
        ("FROM scratch\n\n# comment\nFROBNICATE x\n", 4, "unknown instruction FROBNICATE"),
        ("COPY a /a\n", 1, "before FROM"),
        ("", 0, "no FROM"),
        ("FROM scratch\nFROM busybox\n", 2, "multi-stage"),
        ("FROM scratch\nADD https://example.com/x.tar /x\n", 2, "URL"),
        ("FROM scratch\nCOPY onlyone\n", 2, "at least one source and a destination"),
        ("FROM scratch\nCOPY --chmod=755 a /a\n", 2, "--chmod=755 is not supported"),
        ("FROM scratch\nCOPY --chown=app a /a\n", 2, "numeric"),
        ("FROM scratch\nEXPOSE 99999\n", 2, "EXPOSE 99999"),
        ("FROM scratch\nENV\n", 2, "ENV needs"),
        ("FROM scratch\nLABEL novalue\n", 2, "KEY=VALUE"),
        ("FROM scratch\nENV A=\"unterminated\n", 2, "unterminated quote"),
        ("FROM scratch\nCMD\n", 2, "CMD needs a command"),
        ("FROM Not/Valid\n", 1, "lowercase"),
        ("FROM scratch\nCOPY a \\\n  b \\\n  c\nHEALTHCHECK CMD true\n", 5, "unknown instruction HEALTHCHECK"),
    ])
    func refuses(_ text: String, _ line: Int, _ message: String) {
        #expect {
            try Recipe.parse(text)
        } throws: { error in
            guard let error = error as? RecipeError else { return false }
            return error.line == line && error.description.contains(message)
                && (line == 0 || error.description.hasPrefix("recipe line \(line):"))
        }
    }

    @Test("sources resolve inside the recipe's directory and may not escape it")
    func sources() throws {
        let dir = try TempDir()
        let context = dir.path("ctx")
        let outside = dir.path("outside")
        try FileManager.default.createDirectory(at: context.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try "x".write(to: context.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        try "y".write(to: context.appendingPathComponent("b.txt"), atomically: true, encoding: .utf8)
        try "z".write(to: context.appendingPathComponent("etc/c.conf"), atomically: true, encoding: .utf8)
        try "secret".write(to: outside.appendingPathComponent("secret"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: context.appendingPathComponent("sneaky").path, withDestinationPath: outside.path)

        let layers = try Recipe.parse("FROM scratch\nCOPY *.txt /data/\nCOPY etc /etc\nCOPY a.txt /single\n").layers(context: context)
        #expect(layers.map { $0.items.map(\.destination) } == [["/data/a.txt", "/data/b.txt"], ["/etc"], ["/single"]])
        #expect(layers[0].createdBy == "COPY *.txt /data/")

        for (recipe, message) in [
            ("FROM scratch\nCOPY ../outside/secret /s\n", "outside the recipe's directory"),
            ("FROM scratch\nCOPY etc/../../outside/secret /s\n", "outside the recipe's directory"),
            ("FROM scratch\nCOPY sneaky/secret /s\n", "leads outside"),
            ("FROM scratch\nCOPY sneaky /s\n", "leads outside"),
            ("FROM scratch\nCOPY missing.txt /m\n", "does not exist"),
            ("FROM scratch\nCOPY *.md /m/\n", "no file matches"),
            ("FROM scratch\nCOPY a.txt b.txt /notadir\n", "must be a directory"),
        ] {
            #expect(performing: { try Recipe.parse(recipe).layers(context: context) }, throws: { error in
                (error as? RecipeError)?.line == 2 && "\(error)".contains(message)
            })
        }
    }

    @Test("a recipe builds into an image whose files are where COPY put them")
    func buildsFromRecipe() async throws {
        let dir = try TempDir()
        let (service, _) = try await ImageServiceTests.serviceWithBase(dir)
        let context = dir.path("ctx")
        try FileManager.default.createDirectory(at: context.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try "hello".write(to: context.appendingPathComponent("data.txt"), atomically: true, encoding: .utf8)
        try "k=v".write(to: context.appendingPathComponent("etc/app.conf"), atomically: true, encoding: .utf8)
        let recipe = try Recipe.parse("""
        FROM base:1
        WORKDIR /srv
        COPY data.txt ./
        COPY etc /etc/app
        CMD ["/bin/busybox", "cat", "/srv/data.txt"]
        """)
        guard case .image(let baseName) = recipe.base else { Issue.record("expected a base"); return }
        let request = try recipe.buildRequest(
            context: context,
            base: .init(manifest: try await service.manifestBytes(baseName), config: try await service.configBytes(baseName), reference: baseName),
            tag: try ImageReference(parsing: "recipe:1"))
        let result = try ImageBuilder().build(request, into: dir.path("recipe-layout"))
        _ = try await service.importArchive(at: try Fixtures.tar(result.layout, in: dir, name: "recipe.tar"))
        let image = try await service.resolve("recipe:1")
        #expect(image.config.config?.cmd == ["/bin/busybox", "cat", "/srv/data.txt"])
        #expect(image.config.config?.workingDir == "/srv")
        let lower = try await service.prepareLayers(image)
        #expect(lower.count == 3)
        #expect(try String(contentsOf: lower[1].appendingPathComponent("srv/data.txt"), encoding: .utf8) == "hello")
        #expect(try String(contentsOf: lower[0].appendingPathComponent("etc/app/app.conf"), encoding: .utf8) == "k=v")
        #expect(throws: RecipeError.self) { try recipe.buildRequest(context: context, base: nil, tag: nil) }
    }
}
