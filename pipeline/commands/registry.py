"""`registry list|show|diff|promote|rollback|pull`: read the model registry, move its release channels and copy a
channel's model into an app's build."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from components.contracts import FLOAT_ACCURACY_FIELD, LATENCY_FIELD, TFLITE_ACCURACY_FIELD
from components.registry import pull as pull_lib
from components.registry.store import ChannelPointer, Registry, RegistryError, RegistryVersion
from pipeline.reporting.tables import text_table

KNOWN_CHANNELS = ("staging", "production")


def _version_argument(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"VERSION must be a positive integer, got {text!r}")
    return int(text)


REGISTRY_EXAMPLES = """examples:
  mobilenet-pipeline registry list
  mobilenet-pipeline registry show mobilenet_v1            # every version; add a number for one manifest
  mobilenet-pipeline registry promote mobilenet_v1 3 --channel production
  mobilenet-pipeline registry pull mobilenet_v1 --channel production --to app/src/main/assets
  mobilenet-pipeline registry list --config my-run.yaml    # the registry.root of a config file
  mobilenet-pipeline registry list --registry gs://BUCKET/registry"""


def add_registry_subparser(subparsers: argparse._SubParsersAction, default_root: str) -> None:
    """Add `registry` and its actions to the CLI's subparsers. The root is `--registry`, else the `registry.root`
    of `--config`/`--set`, else `default_root`."""
    from pipeline.commands.local import add_config_options

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--registry",
        metavar="ROOT",
        help="registry root: a folder, gs://... or s3://... (default: registry.root of --config and "
        f"--set, else {default_root})",
    )
    add_config_options(common)
    common.set_defaults(default_root=default_root)
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    channel_help = f"release channel, e.g. {' or '.join(KNOWN_CHANNELS)}"

    registry = subparsers.add_parser(
        "registry",
        help="list, show, diff, promote, roll back and pull model registry versions",
        description=textwrap.fill(
            "Read the versioned model registry, move its release channels, and copy a channel's model (checked "
            "by sha256) into an app's build."
        ),
        epilog=REGISTRY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = registry.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="every model with its versions and channels")
    show = actions.add_parser("show", parents=[common], help="a model's versions as a table, or one version's manifest")
    show.add_argument("name", metavar="NAME", help="model name, e.g. mobilenet_v1")
    show.add_argument("version", metavar="VERSION", nargs="?", type=_version_argument, help="version (default: all)")
    promote = actions.add_parser(
        "promote", parents=[common], help="point a channel at a version, after checking its sha256"
    )
    promote.add_argument("name", metavar="NAME", help="model name")
    promote.add_argument("version", metavar="VERSION", type=_version_argument, help="version to release")
    promote.add_argument("--channel", required=True, help=channel_help)
    rollback = actions.add_parser(
        "rollback", parents=[common], help="move a channel back to the version it served before"
    )
    rollback.add_argument("name", metavar="NAME", help="model name")
    rollback.add_argument("--channel", required=True, help=channel_help)
    diff = actions.add_parser(
        "diff", parents=[common], help="two versions' manifests and gates side by side (each a number or a channel)"
    )
    diff.add_argument("name", metavar="NAME", help="model name")
    diff.add_argument("first", metavar="A", help="a version number or a channel name, e.g. production")
    diff.add_argument("second", metavar="B", help="a version number or a channel name")
    pull = actions.add_parser(
        "pull",
        parents=[common],
        help=f"copy {', '.join(pull_lib.PULLED_FILES)} of a channel's version into a "
        "folder, e.g. app/src/main/assets, after checking them against the manifest",
    )
    pull.add_argument("name", metavar="NAME", help="model name")
    source = pull.add_mutually_exclusive_group()
    source.add_argument("--channel", help=f"the channel whose version to pull (default {pull_lib.DEFAULT_CHANNEL})")
    source.add_argument("--version", type=_version_argument, help="pull this version instead of a channel's")
    pull.add_argument("--to", required=True, metavar="DIR", help="destination folder (local or a tf.io.gfile URL)")


def _percent(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, (int, float)) else "-"


def _size(value: Any) -> str:
    if not isinstance(value, int):
        return "-"
    return f"{value / 1e6:.2f} MB" if value >= 100_000 else f"{value:,} B"


def _latency(value: Any) -> str:
    median = value.get("median") if isinstance(value, dict) else value
    return f"{median:.2f}" if isinstance(median, (int, float)) else "-"


def _channels_of(version: int, pointers: dict[str, ChannelPointer]) -> str:
    return ",".join(channel for channel, pointer in pointers.items() if pointer.version == version) or "-"


def _ordered_channels(names: set[str]) -> list[str]:
    return [name for name in KNOWN_CHANNELS if name in names] + sorted(names - set(KNOWN_CHANNELS))


def _require_registry(registry: Registry) -> None:
    if not registry.exists():
        raise RegistryError(
            f"registry {registry.root} does not exist (give --registry, or --config/--set with registry.root)"
        )


def _list(registry: Registry, as_json: bool) -> str:
    _require_registry(registry)
    summaries = registry.list_models()
    if as_json:
        return json.dumps(
            [
                {
                    "name": summary.name,
                    "versions": list(summary.versions),
                    "latest_version": summary.latest_version,
                    "channels": summary.channels,
                }
                for summary in summaries
            ],
            indent=2,
        )
    if not summaries:
        return f"no models in registry {registry.root}"
    channels = _ordered_channels({name for summary in summaries for name in summary.channels})
    rows = []
    for summary in summaries:
        latest = registry.show(summary.name, summary.latest_version).manifest
        rows.append(
            [
                summary.name,
                len(summary.versions),
                summary.latest_version,
                latest.get("quantization", "-"),
                _size(latest.get("size_bytes")),
                _percent(latest.get(TFLITE_ACCURACY_FIELD)),
                *(summary.channels.get(channel, "-") for channel in channels),
            ]
        )
    headers = ["model", "versions", "latest", "quantization", "size", "tflite acc", *channels]
    return f"registry {registry.root}\n" + text_table(headers, rows, rule=False)


def _show_versions(registry: Registry, name: str, as_json: bool) -> str:
    versions = registry.versions(name)
    if not versions:
        _require_registry(registry)
        raise RegistryError(f"model '{name}' has no versions in registry {registry.root}")
    pointers = registry.channels(name)
    if as_json:
        return json.dumps(
            {
                "model_name": name,
                "versions": [version.manifest for version in versions],
                "channels": {channel: pointer.to_json() for channel, pointer in pointers.items()},
            },
            indent=2,
        )
    rows = [
        [
            version.version,
            version.manifest.get("created_at", "-"),
            version.manifest.get("architecture", "-"),
            version.manifest.get("quantization", "-"),
            _size(version.manifest.get("size_bytes")),
            _percent(version.manifest.get(TFLITE_ACCURACY_FIELD)),
            _percent(version.manifest.get(FLOAT_ACCURACY_FIELD)),
            _latency(version.manifest.get(LATENCY_FIELD)),
            version.sha256[:12],
            _channels_of(version.version, pointers),
        ]
        for version in versions
    ]
    headers = [
        "version",
        "created",
        "architecture",
        "quantization",
        "size",
        "tflite acc",
        "float acc",
        "latency ms",
        "sha256",
        "channels",
    ]
    return f"{name} in registry {registry.root}\n" + text_table(headers, rows, rule=False)


def _manifest_value(value: Any) -> str:
    if isinstance(value, dict) and value:
        return " ".join(f"{key}={item}" for key, item in value.items())
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return "; ".join(_manifest_value(item) for item in value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _show_version(registry: Registry, name: str, number: int, as_json: bool) -> str:
    version: RegistryVersion = registry.show(name, number)
    channels = _channels_of(number, registry.channels(name))
    if as_json:
        return json.dumps(
            {
                "path": version.path,
                "channels": channels.split(",") if channels != "-" else [],
                "manifest": version.manifest,
            },
            indent=2,
        )
    rows = [
        ["path", version.path],
        ["channels", channels],
        *([key, _manifest_value(value)] for key, value in version.manifest.items()),
    ]
    return text_table(["field", "value"], rows, rule=False)


def _promote(registry: Registry, args: argparse.Namespace) -> str:
    previous = registry.channels(args.name).get(args.channel)
    pointer = registry.promote(args.name, args.version, args.channel)
    if args.json:
        return json.dumps(pointer.to_json(), indent=2)
    was = f" (was version {previous.version})" if previous and previous.version != pointer.version else ""
    return (
        f"{args.name} channel {args.channel} now serves version {pointer.version}{was}; "
        f"sha256 {pointer.current.sha256} verified"
    )


def _rollback(registry: Registry, args: argparse.Namespace) -> str:
    previous = registry.channels(args.name).get(args.channel)
    pointer = registry.rollback(args.name, args.channel)
    if args.json:
        return json.dumps(pointer.to_json(), indent=2)
    return (
        f"{args.name} channel {args.channel} rolled back from version {previous.version} to version {pointer.version}"
    )


def _version_named(registry: Registry, name: str, text: str) -> tuple[str, RegistryVersion]:
    """A version given as a number or as the channel serving it, with how to call it."""
    if text.isdigit():
        return f"version {int(text)}", registry.show(name, int(text))
    pointer = registry.channels(name).get(text)
    if pointer is None:
        raise RegistryError(f"'{text}' is neither a version number nor a channel of model '{name}' that serves one")
    return f"{text} (version {pointer.version})", registry.show(name, pointer.version)


def _gate_value(gate: dict[str, Any]) -> str:
    return f"{gate.get('measured')} (limit {gate.get('limit')}) {'passed' if gate.get('passed') else 'FAILED'}"


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _diff(registry: Registry, args: argparse.Namespace) -> str:
    (first_label, first), (second_label, second) = (
        _version_named(registry, args.name, text) for text in (args.first, args.second)
    )
    fields = list(dict.fromkeys([*first.manifest, *second.manifest]))
    rows = {field: (first.manifest.get(field), second.manifest.get(field)) for field in fields if field != "gates"}
    gates = {gate["name"]: [gate, None] for gate in first.manifest.get("gates") or []}
    for gate in second.manifest.get("gates") or []:
        gates.setdefault(gate["name"], [None, None])[1] = gate
    changed = [field for field, (a, b) in rows.items() if a != b]
    changed += [f"gate {name}" for name, (a, b) in gates.items() if a != b]
    if args.json:
        return json.dumps(
            {
                "model_name": args.name,
                "a": {"label": first_label, "manifest": first.manifest},
                "b": {"label": second_label, "manifest": second.manifest},
                "changed": changed,
            },
            indent=2,
        )
    table = [
        [field, _short(_manifest_value(a)), _short(_manifest_value(b)), "*" if field in changed else ""]
        for field, (a, b) in rows.items()
    ]
    table += [
        [
            f"gate {name}",
            _gate_value(a) if a else "-",
            _gate_value(b) if b else "-",
            "*" if f"gate {name}" in changed else "",
        ]
        for name, (a, b) in gates.items()
    ]
    return f"{args.name}: {first_label} against {second_label}; {len(changed)} field(s) differ (*)\n" + text_table(
        ["field", first_label, second_label, ""], table, rule=False
    )


def _pull(registry: Registry, args: argparse.Namespace) -> str:
    pulled = pull_lib.pull(registry, args.name, args.to, channel=args.channel, version=args.version)
    if args.json:
        return json.dumps(pulled.to_json(), indent=2)
    manifest = pulled.manifest
    through = f" (channel {pulled.channel})" if pulled.channel else ""
    return (
        f"pulled {pulled.model_name} version {pulled.version}{through} into {pulled.destination}: "
        f"{', '.join(pull_lib.PULLED_FILES)}\n"
        f"  sha256 {manifest['sha256']} verified against the manifest"
        + (" and the channel" if pulled.channel else "")
        + "\n"
        f"  {manifest.get('quantization', '-')}, {_size(manifest.get('size_bytes'))}, tflite accuracy "
        f"{_percent(manifest.get(TFLITE_ACCURACY_FIELD))} (float {_percent(manifest.get(FLOAT_ACCURACY_FIELD))})"
    )


def registry_root(args: argparse.Namespace) -> str:
    """The root the command works on: --registry, else the config's registry.root when --config or --set is given,
    else the parser's default."""
    from pipeline import config as config_lib

    if args.registry:
        return args.registry
    if args.config or args.overrides:
        return config_lib.load_config(args.config, args.overrides).registry.root
    return args.default_root


def run_registry_command(args: argparse.Namespace) -> int:
    """Run one `registry` action; any failure is one line on stderr and exit code 2."""
    try:
        registry = Registry(registry_root(args))
        if args.registry_command == "list":
            output = _list(registry, args.json)
        elif args.registry_command == "show" and args.version is None:
            output = _show_versions(registry, args.name, args.json)
        elif args.registry_command == "show":
            output = _show_version(registry, args.name, args.version, args.json)
        elif args.registry_command == "promote":
            output = _promote(registry, args)
        elif args.registry_command == "diff":
            output = _diff(registry, args)
        elif args.registry_command == "pull":
            output = _pull(registry, args)
        else:
            output = _rollback(registry, args)
    except (RegistryError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - user-facing command: one line, no traceback (e.g. gs:// errors)
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(output)
    return 0
