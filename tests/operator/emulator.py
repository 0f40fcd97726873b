"""A Kubernetes API emulator for tests: kmock's KubernetesEmulator with the fixes kopf needs.

There is no kube-apiserver here, so kopf, the `kubernetes` client and kubectl talk to kmock's
in-memory emulator (kmock==0.8; this subclass overrides its internals). The stock emulator is
extended to behave like an API server where our tests depend on it:

- objects get uid, resourceVersion, creationTimestamp and generation; every write bumps
  resourceVersion; a write that changes `spec` bumps generation (a `/status` write does not);
  a status subresource keeps the main endpoint and `/status` apart;
- a failed json-patch `test` op answers 422 (kopf relies on it), not 500;
- watches lose no event between the initial replay and the live stream and honour
  `?resourceVersion=`; lists carry kind, apiVersion and a resourceVersion;
- `/api/v1` reports `groupVersion: v1`; errors use NotFound, AlreadyExists, Invalid;
- objects posted with only `generateName` get a name (kopf posts every Event that way);
- a Secret's `stringData` is stored base64-encoded in `data`;
- `kubectl get` receives a Table with the CRD's printer columns.

What it still lacks, so tests must not depend on it: garbage collection, controllers (no
Deployment ever becomes available unless a test says so), schema validation, admission.

`kube_emulator` (a module-scoped fixture) runs it on a loopback port in a thread of its own,
so synchronous code, subprocesses (kopf, kubectl) and tests can all use it at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kmock import KubernetesEmulator, ResourceInfo, Server, resource
from kmock import method as method_enum
from kmock._internal import apps, parsing, rendering

from tests.operator.emulator_api import (ApiError, EventLog, api_version, apply_patch,
                                         fold_string_data, now, selected, send, table, uid)

BUILTIN_RESOURCES = {  # resource: (kind, namespaced, subresources, short names)
    "v1/namespaces": ("Namespace", False, set(), {"ns"}),
    "v1/configmaps": ("ConfigMap", True, set(), {"cm"}),
    "v1/secrets": ("Secret", True, set(), set()),
    "v1/persistentvolumeclaims": ("PersistentVolumeClaim", True, {"status"}, {"pvc"}),
    "v1/services": ("Service", True, {"status"}, {"svc"}),
    "v1/events": ("Event", True, set(), {"ev"}),
    "v1/pods": ("Pod", True, {"status"}, {"po"}),
    "apps/v1/deployments": ("Deployment", True, {"status", "scale"}, {"deploy"}),
    "batch/v1/cronjobs": ("CronJob", True, {"status"}, {"cj"}),
    "storage.k8s.io/v1/storageclasses": ("StorageClass", False, set(), {"sc"}),
    "policy/v1/poddisruptionbudgets": ("PodDisruptionBudget", True, {"status"}, {"pdb"}),
    "networking.k8s.io/v1/networkpolicies": ("NetworkPolicy", True, set(), {"netpol"}),
    "events.k8s.io/v1/events": ("Event", True, set(), set()),
    "apiextensions.k8s.io/v1/customresourcedefinitions": (
        "CustomResourceDefinition", False, {"status"}, {"crd"}),
}
NAMESPACES_PATH = re.compile(r"/api/v1/namespaces(?:/(?P<name>[^/]+)(?:/(?P<sub>status|finalize))?)?")
VERBS = {"get", "list", "watch", "create", "patch", "update", "delete"}


class OscEmulator(KubernetesEmulator):
    """The emulator with API-server behaviour kopf and kubectl depend on (see module doc)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.log = EventLog()
        self.columns: dict[resource, list[dict[str, Any]]] = {}
        for key, (kind, namespaced, subresources, short) in BUILTIN_RESOURCES.items():
            self.resources[key] = ResourceInfo(kind=kind, namespaced=namespaced, verbs=VERBS,
                                               subresources=subresources, shortnames=short)

    def register_crd(self, crd: dict[str, Any]) -> None:
        """Serve a CustomResourceDefinition's resource (status subresource, printer columns)."""
        spec = crd["spec"]
        for version in spec["versions"]:
            key = resource(spec["group"], version["name"], spec["names"]["plural"])
            self.resources[key] = ResourceInfo(
                kind=spec["names"]["kind"], singular=spec["names"].get("singular"),
                namespaced=spec["scope"] == "Namespaced", verbs=VERBS,
                shortnames=spec["names"].get("shortNames", []),
                subresources=set(version.get("subresources", {})))
            self.columns[key] = version.get("additionalPrinterColumns", [])

    # -- request dispatch ---------------------------------------------------------------------

    async def __call__(self, raw_request: Any) -> Any:
        # kmock's path parser takes the `namespaces` of /api/v1/namespaces[/NAME] for the
        # namespace prefix of a namespaced path and fails: parse those paths here.
        match = NAMESPACES_PATH.fullmatch(raw_request.path)
        if match is None:
            return await super().__call__(raw_request)
        body = await raw_request.read()
        name, subresource = match.group("name"), match.group("sub")
        method, query = method_enum(raw_request.method), dict(raw_request.query)
        parsed = parsing.ParsedPath("", "v1", "namespaces", None, name, subresource)
        request = rendering.Request(
            raw_request=raw_request, url=raw_request.url, method=raw_request.method,
            params=query, headers=dict(raw_request.headers), body=body, text=body.decode(),
            data=json.loads(body) if body else None, resource=resource("v1", "namespaces"),
            action=parsing.guess_k8s(parsed, method, query), name=name, subresource=subresource)
        self._requests.append(request)
        return await self._handle(request)

    async def _handle(self, request: Any) -> Any:
        res = request.resource
        try:
            if res is None or res.plural is None or res not in self._resources:
                return await self._discovery(request)
            if "protobuf" in request.headers.get("Content-Type", ""):
                raise ApiError(415, "UnsupportedMediaType",
                               "this emulator speaks JSON only (kubectl apply sends JSON)")
            if request.action is not None and request.action.name == "WATCH":
                return await self._watch(request)
            return await self._respond(request, await self._serve(request))
        except ApiError as error:
            return await self._respond(request, error.status_body(), error.code)

    async def _discovery(self, request: Any) -> Any:
        res = request.resource
        if res is not None and res.version and res.plural is None and request.name is None:
            return await self._respond(request, self._resource_list(res.group, res.version))
        return await apps.RawHandler._handle(self, request)

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        """APIResourceList: `groupVersion: v1` for the core group; short names on the
        resource only (on subresources too, kubectl warns that `ofj` is ambiguous)."""
        entries = []
        for res in self._resources:
            if (res.group, res.version) != (group, version):
                continue
            info = self._resources[res]
            entries.append({"name": res.plural, "kind": info.kind, "namespaced": info.namespaced,
                            "singularName": info.singular or info.kind.lower(),
                            "shortNames": sorted(info.shortnames), "verbs": sorted(info.verbs)})
            entries += [{"name": f"{res.plural}/{sub}", "kind": info.kind, "singularName": "",
                         "namespaced": info.namespaced, "verbs": ["get", "patch", "update"]}
                        for sub in sorted(info.subresources)]
        if not entries:
            raise ApiError(404, "NotFound", f"the server could not find {group}/{version}")
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": entries}

    async def _respond(self, request: Any, body: dict[str, Any], code: int = 200) -> Any:
        import aiohttp.web

        accept = request.headers.get("Accept", "")
        if code < 300 and "as=Table" in accept and request.method.name == "GET":
            body = table(body, self.columns.get(request.resource, []))
        return aiohttp.web.json_response(body, status=code, headers={"Connection": "close"})

    async def _serve(self, request: Any) -> dict[str, Any]:
        method, name = request.method.name, request.name
        async with self._lock:
            if method == "GET" and name is None:
                return self._list(request)
            if method == "GET":
                return self._current(request).raw
            if method == "POST" and name is None:
                return await self._create(request)
            if method in ("PATCH", "PUT") and name is not None:
                return await self._update(request)
            if method == "DELETE" and name is not None:
                return await self._delete(request)
        raise ApiError(405, "MethodNotAllowed", f"{method} {request.url.path} is not supported")

    # -- reads --------------------------------------------------------------------------------

    def _key(self, request: Any, name: str | None = None) -> tuple[Any, str | None, str]:
        info = self._resources[request.resource]
        namespace = request.namespace if info.namespaced else None
        return request.resource, namespace, name or request.name

    def _current(self, request: Any) -> Any:
        key = self._key(request)
        if key not in self._objects or self._objects[key].deleted:
            raise ApiError(404, "NotFound", f'{key[0].plural} "{key[2]}" not found')
        return self._objects[key]

    def _matches(self, request: Any, namespace: str | None, obj: dict[str, Any]) -> bool:
        if request.namespace is not None and namespace != request.namespace:
            return False
        return selected(obj, request.params)

    def _list(self, request: Any) -> dict[str, Any]:
        items = [obj.raw for (res, namespace, _), obj in self._objects.items()
                 if res == request.resource and not obj.deleted
                 and self._matches(request, namespace, obj.raw)]
        info = self._resources[request.resource]
        return {"kind": f"{info.kind}List", "apiVersion": api_version(request.resource),
                "metadata": {"resourceVersion": str(self.log.version)}, "items": items}

    # -- writes -------------------------------------------------------------------------------

    async def _create(self, request: Any) -> dict[str, Any]:
        body = dict(request.data or {})
        meta = dict(body.get("metadata") or {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if not meta.get("name"):
            raise ApiError(422, "Invalid", "metadata.name or metadata.generateName is required")
        key = self._key(request, meta["name"])
        if key in self._objects and not self._objects[key].deleted:
            raise ApiError(409, "AlreadyExists", f'{key[0].plural} "{key[2]}" already exists')
        info = self._resources[request.resource]
        meta.update(uid=uid(), creationTimestamp=now(), generation=1,
                    resourceVersion=str(self.log.next()))
        if key[1] is not None:
            meta["namespace"] = key[1]
        body.update(apiVersion=api_version(request.resource), kind=info.kind, metadata=meta)
        if "status" in info.subresources:
            body.pop("status", None)  # as an API server: status is written via /status only
        fold_string_data(body)
        if key in self._objects:
            self._objects[key].create(body)
        else:
            self._objects[key] = body
        await self.log.append(key, "ADDED", body)
        return body

    async def _update(self, request: Any) -> dict[str, Any]:
        current = self._current(request)
        old = current.raw
        content_type = request.headers.get("Content-Type", "application/merge-patch+json")
        patched = apply_patch(old, request.data, content_type, request.method.name)
        new = self._split_status(request, old, patched)
        fold_string_data(new)
        new["metadata"] = {**new.get("metadata", {}), **{
            field: old["metadata"][field] for field in ("uid", "creationTimestamp", "name")
            if field in old.get("metadata", {})}}
        if new == old:
            return old  # a no-op write changes nothing, as on a real API server
        if new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = str(self.log.next())
        current.history.append(new)
        await self.log.append(self._key(request), "MODIFIED", new)
        return await self._finalize_if_released(request, new)

    def _split_status(self, request: Any, old: dict[str, Any],
                      patched: dict[str, Any]) -> dict[str, Any]:
        """With a status subresource, `/status` writes only status and the rest never does."""
        if "status" not in self._resources[request.resource].subresources:
            return patched
        if request.subresource == "status":
            new, source = dict(old), patched
        else:
            new, source = dict(patched), old
        new.pop("status", None)
        if "status" in source:
            new["status"] = source["status"]
        return new

    async def _delete(self, request: Any) -> dict[str, Any]:
        current = self._current(request)
        old = current.raw
        if old["metadata"].get("finalizers"):
            if not old["metadata"].get("deletionTimestamp"):
                new = {**old, "metadata": {**old["metadata"], "deletionTimestamp": now(),
                                           "resourceVersion": str(self.log.next())}}
                current.history.append(new)
                await self.log.append(self._key(request), "MODIFIED", new)
                return new
            return old
        return await self._finalize_if_released(request, old, force=True)

    async def _finalize_if_released(self, request: Any, obj: dict[str, Any],
                                    force: bool = False) -> dict[str, Any]:
        meta = obj["metadata"]
        if force or (meta.get("deletionTimestamp") and not meta.get("finalizers")):
            gone = {**obj, "metadata": {**meta, "resourceVersion": str(self.log.next())}}
            self._objects[self._key(request)].delete()
            await self.log.append(self._key(request), "DELETED", gone)
            return gone
        return obj

    # -- watch --------------------------------------------------------------------------------

    async def _watch(self, request: Any) -> Any:
        import aiohttp.web

        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request._raw_request)
        timeout = float(request.params.get("timeoutSeconds") or 3600)
        since = request.params.get("resourceVersion") or None
        async with self._lock:
            if since in (None, "0"):
                replay = [("ADDED", obj.raw) for (res, namespace, _), obj in self._objects.items()
                          if res == request.resource and not obj.deleted
                          and self._matches(request, namespace, obj.raw)]
                position = self.log.version
            else:
                replay, position = [], int(since)
        try:
            async with asyncio.timeout(timeout):
                for kind, obj in replay:
                    await send(response, kind, obj)
                async for key, kind, obj in self.log.follow(position):
                    if key[0] == request.resource and self._matches(request, key[1], obj):
                        await send(response, kind, obj)
        except (TimeoutError, ConnectionError, asyncio.CancelledError):
            pass
        return response


ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "openfnjobs.osc.openfn.org.yaml"


class RunningEmulator:
    """OscEmulator served on 127.0.0.1:<port> by a thread with its own event loop."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.kubeconfig = workdir / "kubeconfig"
        self.emulator: OscEmulator | None = None
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RunningEmulator:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the Kubernetes emulator did not start")
        self.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "emulator-token"}}],
            "contexts": [{"name": "emulator", "context": {
                "cluster": "emulator", "user": "tester", "namespace": "default"}}],
        }))
        return self

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with OscEmulator() as emulator, Server(emulator) as server:
            self.emulator, self.port = emulator, server.port
            self._ready.set()
            await self._stop.wait()

    def call(self, function: Callable[[OscEmulator], Any]) -> Any:
        """Run `function(emulator)` in the emulator's loop: a consistent, thread-safe view."""
        async def run() -> Any:
            async with self.emulator._lock:
                return function(self.emulator)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def register_crd(self, crd: dict[str, Any]) -> None:
        self.call(lambda emulator: emulator.register_crd(crd))

    def get(self, api: str, plural: str, namespace: str | None, name: str) -> dict | None:
        """The stored object (a copy), or None; `api` is e.g. "v1" or "apps/v1"."""
        key = (resource(f"{api}/{plural}" if "/" in api else f"{api}/{plural}"), namespace, name)

        def read(emulator: OscEmulator) -> dict | None:
            if key not in emulator.objects or emulator.objects[key].deleted:
                return None
            return json.loads(json.dumps(emulator.objects[key].raw))
        return self.call(read)

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
        """A plain HTTP call to the emulator (Connection: close): (status, JSON body)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Content-Type": content_type, "Accept": "application/json", "Connection": "close"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def env(self) -> dict[str, str]:
        """os.environ for a subprocess (kopf, kubectl) that talks to this emulator."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}


def start_emulator(workdir: Path, crd_file: Path = CRD_FILE) -> RunningEmulator:
    """Start an emulator serving the built-in resources and the generated OpenFnJob CRD."""
    running = RunningEmulator(workdir).start()
    crd = yaml.safe_load(crd_file.read_text())
    running.register_crd(crd)
    # What every cluster has: the CRD installed and the `default` namespace.
    running.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    running.request("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
    return running


@pytest.fixture(scope="module")
def kube_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A Kubernetes emulator on loopback for this test module; `.kubeconfig` points at it."""
    running = start_emulator(tmp_path_factory.mktemp("kube-emulator"))
    try:
        yield running
    finally:
        running.stop()
