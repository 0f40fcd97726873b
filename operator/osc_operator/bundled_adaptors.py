"""The packages the runtime image bundles: package.json's dependencies.

Generated from package.json by `make generate`; `make verify` fails when it is stale.
"""

BUNDLED = {
    "@openfn/core": "1.5.1",
    "@openfn/language-common": "3.3.4",
    "@openfn/language-http": "7.2.10",
    "@openfn/runtime": "1.9.5",
    "acorn": "8.19.0",
    "acorn-walk": "8.3.5",
}
