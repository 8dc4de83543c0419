import Testing

@testable import PierCoAP

@Suite("RFC 7641 observe")
struct ObserveTests {
    static func observeGET(_ path: String, token: UInt64, observe: UInt32? = 0) -> CoAPMessage {
        var m = CoAPMessage(type: .confirmable, code: .get, messageID: 1, token: CoAPToken(token))
        m.uriPath = path.split(separator: "/").map(String.init)
        m.observe = observe
        return m
    }

    @Test("GET with Observe 0 registers, Observe 1 deregisters, other methods are ignored")
    func registerDeregister() {
        var r = ObserveRegistry<String>()
        #expect(r.receive(Self.observeGET("/temp", token: 1), from: "a", now: 0) == .registered(sequence: 0))
        #expect(r.observers(of: "/temp").map(\.peer) == ["a"])
        var put = Self.observeGET("/temp", token: 2)
        put.code = .put
        #expect(r.receive(put, from: "a", now: 0) == .none)
        #expect(r.receive(Self.observeGET("/temp", token: 3, observe: nil), from: "a", now: 0) == .none)
        #expect(r.receive(Self.observeGET("/temp", token: 1, observe: 1), from: "a", now: 0) == .deregistered)
        #expect(r.count == 0)
    }

    @Test("notifications carry increasing 24-bit sequence numbers; a Reset removes the observer")
    func notifications() {
        var r = ObserveRegistry<String>()
        _ = r.receive(Self.observeGET("/temp", token: 1), from: "a", now: 0)
        _ = r.receive(Self.observeGET("/temp", token: 2), from: "b", now: 0)
        _ = r.receive(Self.observeGET("/other", token: 3), from: "c", now: 0)
        let n1 = r.changed("/temp", now: 1)
        #expect(Set(n1.map(\.peer)) == ["a", "b"])
        #expect(n1.allSatisfy { $0.sequence == 1 })
        #expect(r.changed("/temp", now: 2).allSatisfy { $0.sequence == 2 })
        r.remove(peer: "a", token: CoAPToken(1))
        #expect(r.changed("/temp", now: 3).map(\.peer) == ["b"])
        // A new registration gets the current sequence.
        #expect(r.receive(Self.observeGET("/temp", token: 9), from: "d", now: 4) == .registered(sequence: 3))
    }

    @Test("every n-th notification, and one after the interval, is confirmable")
    func confirmablePolicy() {
        var config = ObserveRegistry<String>.Configuration()
        config.confirmableEvery = 3
        config.confirmableInterval = 100
        var r = ObserveRegistry<String>(configuration: config)
        _ = r.receive(Self.observeGET("/t", token: 1), from: "a", now: 0)
        let kinds = (1...6).map { r.changed("/t", now: Double($0)).first?.confirmable ?? false }
        #expect(kinds == [false, false, true, false, false, true])
        #expect(r.changed("/t", now: 200).first?.confirmable == true)
    }

    @Test("registrations are capped per peer and in total")
    func caps() {
        var config = ObserveRegistry<String>.Configuration()
        config.maxObserversPerPeer = 2
        config.maxObservers = 3
        var r = ObserveRegistry<String>(configuration: config)
        #expect(r.receive(Self.observeGET("/t", token: 1), from: "a", now: 0) != .refused)
        #expect(r.receive(Self.observeGET("/t", token: 2), from: "a", now: 0) != .refused)
        #expect(r.receive(Self.observeGET("/t", token: 3), from: "a", now: 0) == .refused)
        // Re-registering an existing token is a replacement, never refused.
        #expect(r.receive(Self.observeGET("/t", token: 2), from: "a", now: 0) != .refused)
        #expect(r.receive(Self.observeGET("/t", token: 4), from: "b", now: 0) != .refused)
        #expect(r.receive(Self.observeGET("/t", token: 5), from: "c", now: 0) == .refused)
        #expect(r.count == 3)
    }

    @Test("sequence numbers count up per change; freshness accepts the wrap at 2^24")
    func wrap() {
        var r = ObserveRegistry<String>()
        _ = r.receive(Self.observeGET("/t", token: 1), from: "a", now: 0)
        var last: UInt32 = 0
        for _ in 0..<3 { last = r.changed("/t", now: 0).first?.sequence ?? 0 }
        #expect(last == 3)
        var f = ObserveFreshness()
        #expect(f.accept(sequence: 0xFF_FFFE, now: 0) == true)
        #expect(f.accept(sequence: 0xFF_FFFF, now: 1) == true)
        #expect(f.accept(sequence: 0, now: 2) == true)  // wrapped: still newer
        #expect(f.accept(sequence: 1, now: 3) == true)
    }

    @Test("freshness (§3.4): reordered notifications are dropped unless 128 s have passed")
    func freshness() {
        var f = ObserveFreshness()
        #expect(f.accept(sequence: 10, now: 0) == true)
        #expect(f.accept(sequence: 12, now: 1) == true)
        #expect(f.accept(sequence: 11, now: 2) == false)  // reordered
        #expect(f.accept(sequence: 12, now: 2) == false)  // duplicate
        #expect(f.accept(sequence: 11, now: 130) == true)  // too long since the last one: trust it
        #expect(f.accept(sequence: 11 + (1 << 23), now: 131) == false)  // exactly half the space ahead is not newer
        #expect(f.accept(sequence: 11 + (1 << 23) - 1, now: 131) == true)
    }
}

@Suite("RFC 6690 link format")
struct LinkFormatTests {
    static let links = [
        CoAPLink(
            path: "/sensors/temp", resourceTypes: ["temperature-c"], interfaces: ["sensor"], contentFormats: [0],
            observable: true, title: "Temperature"),
        CoAPLink(
            path: "/sensors/light", resourceTypes: ["light-lux", "core.s"], interfaces: ["sensor"], contentFormats: [0, 50], size: 12),
        CoAPLink(path: "/compute/mergesort", resourceTypes: ["pier.compute"], contentFormats: [50]),
    ]

    @Test("serialization quotes rt/if/title, leaves ct and sz bare, writes obs as a flag")
    func serialize() {
        #expect(
            CoAPLinkFormat.serialize(Self.links) == """
                </sensors/temp>;rt="temperature-c";if="sensor";ct=0;obs;title="Temperature",\
                </sensors/light>;rt="light-lux core.s";if="sensor";ct="0 50";sz=12,\
                </compute/mergesort>;rt="pier.compute";ct=50
                """)
    }

    @Test(
        "query filtering: exact, per-item, prefix with *, href, flags",
        arguments: [
            (["rt=temperature-c"], ["/sensors/temp"]),
            (["rt=core.s"], ["/sensors/light"]),
            (["rt=light*"], ["/sensors/light"]),
            (["if=sensor"], ["/sensors/temp", "/sensors/light"]),
            (["ct=50"], ["/sensors/light", "/compute/mergesort"]),
            (["href=/compute/*"], ["/compute/mergesort"]),
            (["obs"], ["/sensors/temp"]),
            (["rt=*"], ["/sensors/temp", "/sensors/light", "/compute/mergesort"]),
            (["rt=nothing"], []),
            (["if=sensor", "ct=50"], ["/sensors/light"]),
        ] as [([String], [String])])
    func filter(query: [String], expected: [String]) {
        #expect(CoAPLinkFormat.filter(Self.links, query: query).map(\.target) == expected)
    }

    @Test("parse reads what serialize writes, including quoted commas and semicolons")
    func roundTrip() throws {
        var links = Self.links
        links.append(CoAPLink(path: "/odd", title: "a, b; \"c\""))
        let text = CoAPLinkFormat.serialize(links)
        let parsed = try CoAPLinkFormat.parse(text)
        #expect(parsed.map(\.target) == links.map(\.target))
        #expect(parsed[0].has("obs"))
        #expect(parsed[1].values("rt") == ["light-lux", "core.s"])
        #expect(parsed[3].values("title") == ["a, b; \"c\""])
        #expect(throws: CoAPLinkFormatError.self) { try CoAPLinkFormat.parse("/no-brackets;rt=x") }
    }
}
