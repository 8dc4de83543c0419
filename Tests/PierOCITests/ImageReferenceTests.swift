import Testing
@testable import PierOCI

@Suite("ImageReference")
struct ImageReferenceTests {
    static let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test("references normalize as Docker's do", arguments: [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
        ("myorg/sensor:2.0", "docker.io/myorg/sensor:2.0", "myorg/sensor:2.0"),
        ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
        ("localhost/app:v1", "localhost/app:v1", "localhost/app:v1"),
        ("registry.example.com:443/team/app/api:1.0-rc_1", "registry.example.com:443/team/app/api:1.0-rc_1", "registry.example.com:443/team/app/api:1.0-rc_1"),
        ("gcr.io/distroless/static@" + digest, "gcr.io/distroless/static@" + digest, "gcr.io/distroless/static@" + digest),
        ("app:1.0@" + digest, "docker.io/library/app:1.0@" + digest, "app:1.0@" + digest),
        ("a__b/c-d---e.f", "docker.io/a__b/c-d---e.f:latest", "a__b/c-d---e.f:latest"),
        // A first path component that looks like a host keeps the registry in the short form.
        ("docker.io/team.io/app", "docker.io/team.io/app:latest", "docker.io/team.io/app:latest"),
        ("docker.io/localhost/app", "docker.io/localhost/app:latest", "docker.io/localhost/app:latest"),
    ])
    func normalizes(_ input: String, _ canonical: String, _ display: String) throws {
        let r = try ImageReference(parsing: input)
        #expect(r.canonical == canonical)
        #expect(r.display == display)
        #expect(try ImageReference(parsing: r.canonical) == r)
        #expect(try ImageReference(parsing: r.display) == r)
    }

    @Test("invalid references are refused with a reason", arguments: [
        ("", "empty"),
        ("Busybox", "lowercase"),
        ("busybox:", "invalid tag"),
        ("busybox:-bad", "invalid tag"),
        ("busybox:" + String(repeating: "a", count: 129), "invalid tag"),
        ("bad_/name", "not a valid path component"),
        ("a//b", "not a valid path component"),
        ("-leading", "not a valid path component"),
        ("app@sha256:123", "invalid digest"),
        ("app@md5:d41d8cd98f00b204e9800998ecf8427e", "invalid digest"),
        ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "image id"),
        ("exa mple", "not a valid path component"),
        ("bad-.host.com:x/app", "registry host"),
        // 250 characters, but docker.io/library/ makes the stored name 268.
        (String(repeating: "a", count: 250), "too long"),
    ])
    func refuses(_ input: String, _ fragment: String) {
        #expect {
            try ImageReference(parsing: input)
        } throws: { error in
            let text = (error as? ReferenceError)?.description ?? ""
            return text.contains(fragment)
        }
    }

    @Test("a name of 255 characters with its registry is the longest accepted")
    func longestName() throws {
        let longest = "localhost/" + String(repeating: "a", count: 245)
        #expect(try ImageReference(parsing: longest).name.count == 255)
        #expect(throws: ReferenceError.self) { try ImageReference(parsing: longest + "a") }
    }

    @Test("withTag keeps the repository")
    func withTag() throws {
        let r = try ImageReference(parsing: "localhost:5000/app:1")
        #expect(try r.withTag("2").canonical == "localhost:5000/app:2")
    }
}
