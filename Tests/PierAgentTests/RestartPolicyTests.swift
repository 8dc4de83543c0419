import Testing
@testable import PierAgent

@Suite struct RestartPolicyTests {
    @Test func parsesDockersForms() throws {
        #expect(try RestartPolicy(parsing: nil) == .no)
        #expect(try RestartPolicy(parsing: "always").kind == .always)
        #expect(try RestartPolicy(parsing: "unless-stopped").kind == .unlessStopped)
        #expect(try RestartPolicy(parsing: "on-failure") == RestartPolicy(kind: .onFailure, maxRetries: nil))
        #expect(try RestartPolicy(parsing: "on-failure:3") == RestartPolicy(kind: .onFailure, maxRetries: 3))
    }

    @Test(arguments: ["sometimes", "always:3", "on-failure:x", "on-failure:-1"])
    func refusesBadPolicies(_ text: String) {
        #expect {
            try RestartPolicy(parsing: text)
        } throws: { error in
            "\(error)".contains(text)
        }
    }

    @Test func decidesLikeDocker() throws {
        let onFailure = try RestartPolicy(parsing: "on-failure:2")
        #expect(onFailure.shouldRestart(exitCode: 1, restartCount: 0, manuallyStopped: false))
        #expect(onFailure.shouldRestart(exitCode: 1, restartCount: 1, manuallyStopped: false))
        #expect(!onFailure.shouldRestart(exitCode: 1, restartCount: 2, manuallyStopped: false))
        #expect(!onFailure.shouldRestart(exitCode: 0, restartCount: 0, manuallyStopped: false))
        let always = try RestartPolicy(parsing: "always")
        #expect(always.shouldRestart(exitCode: 0, restartCount: 100, manuallyStopped: false))
        #expect(!always.shouldRestart(exitCode: 0, restartCount: 0, manuallyStopped: true))
        #expect(!RestartPolicy.no.shouldRestart(exitCode: 1, restartCount: 0, manuallyStopped: false))
    }

    @Test func backoffDoublesAndResetsAfterTenSeconds() {
        #expect(RestartPolicy.delay(previous: nil, ranFor: 0) == .milliseconds(100))
        #expect(RestartPolicy.delay(previous: .milliseconds(100), ranFor: 1) == .milliseconds(200))
        #expect(RestartPolicy.delay(previous: .seconds(40), ranFor: 1) == .seconds(60))
        #expect(RestartPolicy.delay(previous: .seconds(40), ranFor: 11) == .milliseconds(100))
    }
}
