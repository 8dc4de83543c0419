#!/usr/bin/env python3
"""Checks docs/openapi.yaml against the manager's real routes.

  1. validates the file as OpenAPI 3.1 (openapi-spec-validator), and flags schema keywords that
     are not JSON Schema's (a typo, or an unquoted comma in a YAML flow mapping);
  2. reads every route registered in Sources/PierManager/API/ManagerRoutes.swift and
     SessionRoutes.swift (`v1.get("services/{ref}")`, `router.post("v1/join")`,
     `router.ws("v1/session")`, groups made with `.group("v1")`) and fails when a route is missing
     from the file, or the file documents a route the code does not register;
  3. checks every example in the file against the schema beside it.

Usage: scripts/check-openapi.py [--spec docs/openapi.yaml] [--routes FILE.swift ...] [--list]
Exit status: 0 when everything agrees, 1 when something does not, 2 when it could not run.
Needs `pip install openapi-spec-validator` (it brings PyYAML and openapi-schema-validator).
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "docs" / "openapi.yaml"
DEFAULT_ROUTES = [
    ROOT / "Sources" / "PierManager" / "API" / "ManagerRoutes.swift",
    ROOT / "Sources" / "PierManager" / "API" / "SessionRoutes.swift",
]
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Hummingbird's router verbs; `ws` is a GET that upgrades to a WebSocket.
ROUTER_VERBS = {m: m.upper() for m in HTTP_METHODS} | {"ws": "GET"}


def fail_to_run(message):
    print(f"check-openapi: {message}", file=sys.stderr)
    sys.exit(2)


try:
    import yaml
    from openapi_schema_validator import OAS31Validator
    try:
        from openapi_spec_validator import validate as validate_spec  # 0.7 and later
    except ImportError:
        from openapi_spec_validator import validate_spec
    try:
        from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
    except ImportError:
        from jsonschema.exceptions import ValidationError as OpenAPIValidationError
except ImportError as error:
    fail_to_run(f"Python module {error.name or error} is not installed; run `pip install openapi-spec-validator` and try again")


# Swift source -> routes

TOKEN = re.compile(
    r'(?P<comment>//[^\n]*|/\*.*?\*/)'
    r'|(?P<string>#*"""(?:.|\n)*?"""#*|#*"(?:\\.|[^"\\\n])*"#*)'
    r'|(?P<other>[^/"#]+|.)',
    re.S,
)


def strip_comments(source):
    """Drops // and /* */ comments (keeping their line breaks, for line numbers) and keeps
    string literals, which may hold `//`."""
    return "".join("\n" * m.group(0).count("\n") if m.group("comment") else m.group(0) for m in TOKEN.finditer(source))


GROUPS = r'((?:\s*\.\s*group\(\s*"[^"]*"\s*\))*)'
ROUTER_PARAM = re.compile(r'\b(\w+)\s*:\s*(?:some\s+|any\s+)?(?:Router|RouterGroup)\s*<')
GROUP_DECL = re.compile(r'\b(\w+)\s*=\s*(?<![\w.])(\w+)' + GROUPS)
VERB_CALL = re.compile(
    r'(?<![\w.])(\w+)' + GROUPS + r'\s*\.\s*(' + "|".join(ROUTER_VERBS) + r')\s*(?:\(\s*(?:"([^"]*)")?|\{)'
)
ON_CALL = re.compile(r'(?<![\w.])(\w+)' + GROUPS + r'\s*\.\s*on\(\s*"([^"]*)"\s*,\s*method:\s*\.(\w+)')
GROUP_ARG = re.compile(r'group\(\s*"([^"]*)"\s*\)')
UNSUPPORTED = re.compile(r'\b(addRoutes|RouteCollection|RouterBuilder)\b')


def join_path(*parts):
    segments = [s for part in parts for s in part.split("/") if s]
    # Hummingbird's `:name` parameter syntax is the same as `{name}`.
    segments = ["{" + s[1:] + "}" if s.startswith(":") else s for s in segments]
    return "/" + "/".join(segments)


def routes_in(path):
    """(METHOD, /path) for every route a Swift file registers, with the line it is on."""
    try:
        source = strip_comments(path.read_text(encoding="utf-8"))
    except OSError as error:
        fail_to_run(f"cannot read {path}: {error.strerror}; pass the route files with --routes")
    if m := UNSUPPORTED.search(source):
        fail_to_run(f"{path.name} uses {m.group(1)}, which this script does not read; teach check-openapi.py about it")

    prefixes = {name: "" for name in ROUTER_PARAM.findall(source)}
    if not prefixes:
        fail_to_run(f"{path.name} has no parameter of type Router<…>; is it still the route file?")
    # Groups, in the order they are made (a group of a group sees its parent's prefix).
    for name, base, chain in GROUP_DECL.findall(source):
        if base in prefixes and chain:
            prefixes[name] = join_path(prefixes[base], *GROUP_ARG.findall(chain))

    def line_of(offset):
        return source.count("\n", 0, offset) + 1

    found = []
    for m in VERB_CALL.finditer(source):
        receiver, chain, verb, route = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        if receiver not in prefixes:
            continue
        full = join_path(prefixes[receiver], *GROUP_ARG.findall(chain), route)
        found.append((ROUTER_VERBS[verb], full, f"{path.name}:{line_of(m.start())}"))
    for m in ON_CALL.finditer(source):
        receiver, chain, route, method = m.groups()
        if receiver not in prefixes:
            continue
        full = join_path(prefixes[receiver], *GROUP_ARG.findall(chain), route)
        found.append((method.upper(), full, f"{path.name}:{line_of(m.start())}"))
    return found


# OpenAPI file -> operations, examples


def operations_in(spec):
    return {
        (method.upper(), path)
        for path, item in (spec.get("paths") or {}).items()
        for method in item
        if method in HTTP_METHODS
    }


def examples_in(spec):
    """(where, schema, example) for every media-type example under paths."""
    for path, item in (spec.get("paths") or {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            bodies = []
            if body := operation.get("requestBody"):
                bodies.append(("request", body))
            for status, response in (operation.get("responses") or {}).items():
                bodies.append((f"response {status}", response))
            for label, body in bodies:
                for media, content in (body.get("content") or {}).items():
                    if "schema" in content and "example" in content:
                        yield f"{method.upper()} {path} {label} ({media})", content["schema"], content["example"]
    for name, response in ((spec.get("components") or {}).get("responses") or {}).items():
        for media, content in (response.get("content") or {}).items():
            if "schema" in content and "example" in content:
                yield f"components.responses.{name} ({media})", content["schema"], content["example"]


SCHEMA_KEYWORDS = {
    "$ref", "$comment", "title", "description", "type", "enum", "const", "default", "examples", "example",
    "format", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
    "properties", "required", "additionalProperties", "unevaluatedProperties", "patternProperties",
    "propertyNames", "items", "prefixItems", "contains", "oneOf", "anyOf", "allOf", "not", "if", "then",
    "else", "dependentRequired", "discriminator", "deprecated", "readOnly", "writeOnly", "externalDocs",
    "xml", "contentMediaType", "contentEncoding",
}


def schema_problems(spec):
    """Unknown keywords in schemas (a typo such as `requried`, or a comma inside an unquoted
    flow-mapping description, which YAML reads as a new key) and keys whose value is null."""
    found = []

    def walk_schema(schema, where):
        if not isinstance(schema, dict):
            return
        for key, value in schema.items():
            if key not in SCHEMA_KEYWORDS and not key.startswith("x-"):
                found.append(f"{where}: unknown schema keyword {key!r} (a typo, or an unquoted comma in a flow mapping?)")
        for name, sub in (schema.get("properties") or {}).items():
            walk_schema(sub, f"{where}/properties/{name}")
        for key in ("items", "additionalProperties", "not", "if", "then", "else"):
            walk_schema(schema.get(key), f"{where}/{key}")
        for key in ("oneOf", "anyOf", "allOf", "prefixItems"):
            for i, sub in enumerate(schema.get(key) or []):
                walk_schema(sub, f"{where}/{key}/{i}")

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None:
                    found.append(f"{where}/{key} is null (an unquoted comma or colon in a flow mapping?)")
                if key == "schema" or (where.endswith("components/schemas")):
                    walk_schema(value, f"{where}/{key}")
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(spec, "")
    return found


def short(error):
    """One line for an exception the validators raise (a PointerToNowhere quotes the whole file)."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{type(error).__name__}: {text.split(' does not exist within ')[0]}{' does not exist' if ' does not exist within ' in text else ''}"[:300]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the OpenAPI file (default: docs/openapi.yaml)")
    parser.add_argument("--routes", type=Path, nargs="+", default=DEFAULT_ROUTES, help="Swift files that register routes")
    parser.add_argument("--list", action="store_true", help="print the routes found in the Swift files and exit")
    args = parser.parse_args()
    if args.list:
        for method, path, place in sorted((r for f in args.routes for r in routes_in(f)), key=lambda r: (r[1], r[0])):
            print(f"{method:7} {path:32} {place}")
        return 0

    try:
        spec = yaml.safe_load(args.spec.read_text(encoding="utf-8"))
    except OSError as error:
        fail_to_run(f"cannot read {args.spec}: {error.strerror}")
    except yaml.YAMLError as error:
        print(f"check-openapi: {args.spec} is not valid YAML: {error}")
        return 1

    problems = []

    # 1. The file is OpenAPI 3.1.
    if not str(spec.get("openapi", "")).startswith("3.1"):
        problems.append(f"{args.spec.name}: `openapi` is {spec.get('openapi')!r}; this project documents OpenAPI 3.1")
    before = len(problems)
    try:
        validate_spec(spec)
    except OpenAPIValidationError as error:
        where = "/".join(str(p) for p in error.path) or "(root)"
        problems.append(f"{args.spec.name}: invalid OpenAPI at {where}: {error.message}")
    except Exception as error:  # the validator raises plain errors for a $ref that points nowhere
        problems.append(f"{args.spec.name}: invalid OpenAPI: {short(error)}")
    problems += [f"{args.spec.name}: {p}" for p in schema_problems(spec)]
    ok = len(problems) == before
    print(f"{'ok  ' if ok else 'FAIL'} {args.spec.name} {'is' if ok else 'is not'} a valid OpenAPI {spec.get('openapi')} document")

    # 2. Every route is documented, and only those.
    routes = [r for f in args.routes for r in routes_in(f)]
    if not routes:
        fail_to_run("found no routes in " + ", ".join(str(f) for f in args.routes) + "; has the registration style changed?")
    in_code = {(method, path) for method, path, _ in routes}
    where = {(method, path): place for method, path, place in routes}
    in_spec = operations_in(spec)
    for op in sorted(in_code - in_spec, key=lambda o: (o[1], o[0])):
        problems.append(f"{op[0]} {op[1]} ({where[op]}) is not documented in {args.spec.name}")
    for op in sorted(in_spec - in_code, key=lambda o: (o[1], o[0])):
        problems.append(f"{op[0]} {op[1]} is documented in {args.spec.name} but no route file registers it")
    duplicates = len(routes) - len(in_code)
    if duplicates:
        problems.append(f"{duplicates} route(s) are registered twice in the route files")
    print(f"{'ok  ' if in_code == in_spec else 'FAIL'} {len(in_code)} routes in code, {len(in_spec)} operations documented")

    # 3. Examples match their schemas.
    components = spec.get("components") or {}
    checked, before = 0, len(problems)
    for place, schema, example in examples_in(spec):
        checked += 1
        validator = OAS31Validator(dict(schema, components=components))
        try:
            errors = sorted(validator.iter_errors(example), key=lambda e: [str(p) for p in e.path])
        except Exception as error:  # a $ref that points nowhere
            problems.append(f"example of {place}: cannot check it: {short(error)}")
            continue
        for error in errors:
            at = "/".join(str(p) for p in error.path) or "(root)"
            problems.append(f"example of {place} at {at}: {error.message}")
    print(f"{'ok  ' if len(problems) == before else 'FAIL'} {checked} examples checked against their schemas")

    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        print(f"check-openapi: {len(problems)} problem(s); fix {args.spec.relative_to(ROOT) if args.spec.is_relative_to(ROOT) else args.spec} or the routes")
        return 1
    print(f"check-openapi: {args.spec.name} and the manager's routes agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
