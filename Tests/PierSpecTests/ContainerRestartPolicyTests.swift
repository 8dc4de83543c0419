import Testing
@testable import PierSpec

@Suite struct RestartPolicyTests {
    @Test func parsesDockersForms() throws {
        #expect(try ContainerRestartPolicy(parsing: nil) == .no)
        #expect(try ContainerRestartPolicy(parsing: "always").kind == .always)
        #expect(try ContainerRestartPolicy(parsing: "unless-stopped").kind == .unlessStopped)
        #expect(try ContainerRestartPolicy(parsing: "on-failure") == ContainerRestartPolicy(kind: .onFailure, maxRetries: nil))
        #expect(try ContainerRestartPolicy(parsing: "on-failure:3") == ContainerRestartPolicy(kind: .onFailure, maxRetries: 3))
    }

    @Test(arguments: ["sometimes", "always:3", "on-failure:x", "on-failure:-1"])
    func refusesBadPolicies(_ text: String) {
        #expect {
            try ContainerRestartPolicy(parsing: text)
        } throws: { error in
            "\(error)".contains(text)
        }
    }

    @Test func decidesLikeDocker() throws {
        let onFailure = try ContainerRestartPolicy(parsing: "on-failure:2")
        #expect(onFailure.shouldRestart(exitCode: 1, restartCount: 0, manuallyStopped: false))
        #expect(onFailure.shouldRestart(exitCode: 1, restartCount: 1, manuallyStopped: false))
        #expect(!onFailure.shouldRestart(exitCode: 1, restartCount: 2, manuallyStopped: false))
        #expect(!onFailure.shouldRestart(exitCode: 0, restartCount: 0, manuallyStopped: false))
        let always = try ContainerRestartPolicy(parsing: "always")
        #expect(always.shouldRestart(exitCode: 0, restartCount: 100, manuallyStopped: false))
        #expect(!always.shouldRestart(exitCode: 0, restartCount: 0, manuallyStopped: true))
        #expect(!ContainerRestartPolicy.no.shouldRestart(exitCode: 1, restartCount: 0, manuallyStopped: false))
    }

    @Test func backoffDoublesAndResetsAfterTenSeconds() {
        #expect(ContainerRestartPolicy.delay(previous: nil, ranFor: 0) == .milliseconds(100))
        #expect(ContainerRestartPolicy.delay(previous: .milliseconds(100), ranFor: 1) == .milliseconds(200))
        #expect(ContainerRestartPolicy.delay(previous: .seconds(40), ranFor: 1) == .seconds(60))
        #expect(ContainerRestartPolicy.delay(previous: .seconds(40), ranFor: 11) == .milliseconds(100))
    }
}
