import Testing

@testable import PierStack

@Suite struct InterpolationTests {
    let env = ["SET": "value", "EMPTY": "", "PORT": "8080", "INNER": "in"]

    func expand(_ text: String) throws -> String {
        var i = Interpolation(environment: env)
        return try i.expand(text)
    }

    @Test func forms() throws {
        #expect(try expand("plain") == "plain")
        #expect(try expand("${SET}") == "value")
        #expect(try expand("$SET/x") == "value/x")
        #expect(try expand("a${SET}b$SET.c") == "avalueb" + "value.c")
        #expect(try expand("$$SET and $${SET}") == "$SET and ${SET}")
        #expect(try expand("${MISSING:-fallback}") == "fallback")
        #expect(try expand("${EMPTY:-fallback}") == "fallback")
        #expect(try expand("${EMPTY-fallback}") == "")
        #expect(try expand("${MISSING-fallback}") == "fallback")
        #expect(try expand("${SET:-fallback}") == "value")
        #expect(try expand("${MISSING:-${INNER}-${PORT}}") == "in-8080")
        #expect(try expand("${MISSING:-}") == "")
        #expect(try expand("${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${MISSING+alt}") == "alt||alt|")
        #expect(try expand("${SET:?must be set}") == "value")
        #expect(try expand("é${SET}ü") == "évalueü")
    }

    @Test func unsetVariablesBecomeEmptyAndAreRemembered() throws {
        var i = Interpolation(environment: [:])
        #expect(try i.expand("a${NOPE}b$ALSO_NOT") == "ab")
        #expect(i.unset == ["NOPE", "ALSO_NOT"])
    }

    @Test func errors() throws {
        let cases: [(String, String)] = [
            ("${MISSING:?set MISSING to the site name}", "required variable MISSING is not set: set MISSING to the site name"),
            ("${EMPTY:?}", "required variable EMPTY is empty"),
            ("${MISSING?}", "required variable MISSING is not set"),
            ("cost: 5$", "ends with a lone '$'; write $$ for a literal $"),
            ("$1", "has '$' followed by '1', which is not a variable reference; write $$ for a literal $"),
            ("${SET", "has an unclosed '${'; close it with '}' or write $$ for a literal $"),
            ("${}", "has ${}, which does not start with a variable name"),
            ("${SET:x}", "has ${SET:x}; expected ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} or ${VAR:+value}"),
        ]
        for (text, message) in cases {
            #expect(throws: Interpolation.Failure(message: message), "\(text)") { try expand(text) }
        }
        // ${EMPTY?} only errors when unset.
        #expect(try expand("${EMPTY?}") == "")
    }

    @Test func deepNestingIsRefused() {
        let text = String(repeating: "${A:-", count: 50) + String(repeating: "}", count: 50)
        #expect(throws: Interpolation.Failure.self) { try expand(text) }
    }

    @Test func appliesToValuesInTheFileAndNamesTheField() throws {
        let s = try service("""
            image: registry.local/app:${TAG:-latest}
            environment: ["SITE=${SITE}", "LITERAL=$$HOME"]
            ports: ["${PORT}:80"]
            """, environment: ["SITE": "north", "PORT": "9000"])
        #expect(s.task.container.image == "registry.local/app:latest")
        #expect(s.task.container.env == ["SITE=north", "LITERAL=$HOME"])
        #expect(s.task.container.publish == ["9000:80"])

        let p = problems("image: app:${TAG:?give TAG}\nuser: $9")
        #expect(p.map(\.path) == ["services.web.image", "services.web.user"])
        #expect(p.first?.message == "\"app:${TAG:?give TAG}\" required variable TAG is not set: give TAG")
    }

    @Test func unsetVariablesAreListedOnTheFile() throws {
        let file = try ComposeFile.parse(yaml: "services:\n  web:\n    image: nginx${TAG}\n", directory: "/", environment: [:])
        #expect(file.unsetVariables == ["TAG"])
        #expect(file.services.first?.task.container.image == "nginx")
        // An unset tag leaves `nginx:`, which is no image reference: refused, naming the image.
        #expect { try ComposeFile.parse(yaml: "services:\n  web:\n    image: nginx:${TAG}\n", directory: "/", environment: [:]) } throws: {
            "\($0)".contains("services.web") && "\($0)".contains("\"nginx:\"")
        }
    }
}
