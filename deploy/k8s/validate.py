"""Offline validation of deploy/k8s: every overlay renders, and every object it renders matches its schema.

- `kubectl kustomize` renders each overlay in deploy/k8s/overlays/ (no cluster needed).
- Kubernetes objects are checked with kubernetes-validate against the Kubernetes KUBERNETES_VERSION schemas in
  strict mode (an unknown field is an error, as `kubectl apply`'s default --validate=strict makes it).
- KEDA and prometheus-operator objects are checked against the CRDs kept in deploy/k8s/crds/ (reduced copies, see
  its README), with the same strictness, list-map keys unique, and the CRD files themselves checked as
  CustomResourceDefinitions. Their CEL rules (x-kubernetes-validations) are not evaluated.
- An object of a kind that neither knows is an error, never skipped.

    .venv/bin/python deploy/k8s/validate.py                 # every overlay (make lint)
    .venv/bin/python deploy/k8s/validate.py FILE.yaml ...   # manifests as they are, without kustomize
"""

import argparse
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
OVERLAYS = HERE / "overlays"
CRDS = HERE / "crds"
# kubectl here is v1.32; kubernetes-validate 1.37.0 ships the schemas of 1.25 to 1.37.
KUBERNETES_VERSION = "1.32"

# What the API server requires of any object's metadata (the CRDs leave `metadata` to it).
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
METADATA_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": _DNS_SUBDOMAIN},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

_COPIED = ("enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "required")


def json_schema(node: dict) -> dict:
    """A CRD's OpenAPI v3 schema node as JSON Schema, with objects closed to fields they do not list."""
    out: dict[str, Any] = {key: node[key] for key in _COPIED if key in node}
    if node.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    elif "type" in node:
        out["type"] = node["type"]
    if "properties" in node:
        out["properties"] = {name: json_schema(sub) for name, sub in node["properties"].items()}
    if "items" in node:
        out["items"] = json_schema(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = json_schema(node["additionalProperties"])
    elif "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def list_map_errors(node: dict, value: Any, path: str) -> list[str]:
    """Items of an `x-kubernetes-list-type: map` (or `set`) list that repeat a key: the API server refuses them."""
    errors = []
    if isinstance(value, list):
        kind = node.get("x-kubernetes-list-type")
        keys = node.get("x-kubernetes-list-map-keys", [])
        if kind in ("map", "set"):
            seen = [tuple(item.get(k) for k in keys) if kind == "map" else repr(item) for item in value]
            for key, count in Counter(seen).items():
                if count > 1:
                    errors.append(f"{path}: duplicate entries for key {key} (x-kubernetes-list-type: {kind})")
        for index, item in enumerate(value):
            errors += list_map_errors(node.get("items", {}), item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for name, sub in value.items():
            sub_node = node.get("properties", {}).get(name)
            if sub_node is None and isinstance(node.get("additionalProperties"), dict):
                sub_node = node["additionalProperties"]
            if sub_node is not None:
                errors += list_map_errors(sub_node, sub, f"{path}.{name}" if path else name)
    return errors


def load_crds() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the OpenAPI schema of that version, from every CRD in deploy/k8s/crds/."""
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            api_version = f"{crd['spec']['group']}/{version['name']}"
            schemas[(api_version, crd["spec"]["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return schemas


def object_errors(obj: Any, crds: dict[tuple[str, str], dict]) -> tuple[str, list[str]]:
    """(the validator used, the errors) for one object."""
    if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
        return "none", ["not a Kubernetes object (apiVersion and kind are required)"]
    schema = crds.get((obj["apiVersion"], obj["kind"]))
    if schema is not None:
        converted = json_schema(schema)
        converted["properties"]["metadata"] = METADATA_SCHEMA
        validator = jsonschema.Draft202012Validator(converted)
        errors = [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(obj)]
        return "crd", errors + list_map_errors(schema, obj, "")
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return "kubernetes", [f"{'.'.join(map(str, exc.absolute_path)) or '(root)'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return "none", [f"no schema for {obj['kind']} {obj['apiVersion']}: {exc.message} (nor in {CRDS.name}/)"]
    return "kubernetes", []


def validate_objects(objects: list[Any], source: str, crds: dict[tuple[str, str], dict]) -> tuple[Counter, list[str]]:
    """Counts of objects per validator, and one line per error naming the object."""
    counts: Counter = Counter()
    errors = []
    for obj in objects:
        used, problems = object_errors(obj, crds)
        counts[used] += 1
        name = (obj.get("metadata") or {}).get("name", "?") if isinstance(obj, dict) else "?"
        kind = obj.get("kind", "?") if isinstance(obj, dict) else "?"
        errors += [f"{source}: {kind}/{name}: {problem}" for problem in problems]
    return counts, errors


def kubectl() -> str:
    path = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not path:
        raise SystemExit("kubectl is not installed: it renders the overlays (kubectl 1.27 or newer, kustomize v5)")
    return path


def render(overlay: Path) -> list[dict]:
    """The objects `kubectl kustomize` renders for an overlay."""
    result = subprocess.run(  # noqa: S603 - our own kubectl and overlay paths
        [kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"kubectl kustomize {overlay} failed:\n{result.stderr}")
    return [obj for obj in yaml.safe_load_all(result.stdout) if obj]


def overlays() -> list[Path]:
    return sorted(path for path in OVERLAYS.iterdir() if (path / "kustomization.yaml").exists())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="manifest files to check as they are (default: overlays)")
    args = parser.parse_args()
    crds = load_crds()
    errors = []
    # The CRD copies are CustomResourceDefinitions themselves.
    crd_objects = [yaml.safe_load(path.read_text()) for path in sorted(CRDS.glob("*.yaml"))]
    _, crd_errors = validate_objects(crd_objects, "crds", {})
    errors += crd_errors
    if args.files:
        sources = [(str(path), [obj for obj in yaml.safe_load_all(path.read_text()) if obj]) for path in args.files]
    else:
        sources = [(f"overlays/{path.name}", render(path)) for path in overlays()]
    for source, objects in sources:
        counts, found = validate_objects(objects, source, crds)
        errors += found
        print(
            f"{source}: {len(objects)} objects, {counts['kubernetes']} against Kubernetes {KUBERNETES_VERSION} "
            f"(strict), {counts['crd']} against the CRDs in {CRDS.name}/: {'FAILED' if found else 'valid'}"
        )
    for error in errors:
        print(f"ERROR {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
