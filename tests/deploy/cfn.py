"""template.yaml as CloudFormation sees it: translated by samtranslator (as ``sam validate``
does, local code folders replaced by S3 URIs), then resolved for one set of parameter values
(conditions evaluated, ``Fn::If`` and ``AWS::NoValue`` applied, false resources dropped)."""

from __future__ import annotations

import copy
import graphlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags as their long forms (``!Ref`` -> ``Ref``...)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tag)


def load_template() -> dict[str, Any]:
    loaded = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)
    assert isinstance(loaded, dict)
    return loaded


def translate(parameters: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation template SAM produces for ``parameters``, resolved for them."""
    sam = copy.deepcopy(load_template())
    for resource in sam["Resources"].values():
        props = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri"):
            if isinstance(props.get(name), str):
                props[name] = "s3://bucket/key"
    translator = Translator(
        managed_policy_map={},
        sam_parser=Parser(),
        boto_session=boto3.Session(region_name="us-east-1"),
    )
    cfn = translator.translate(sam_template=sam, parameter_values=dict(parameters))
    return resolve(cfn, parameters)


def resolve(cfn: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    defaults = {k: str(v.get("Default", "")) for k, v in cfn.get("Parameters", {}).items()}
    values = {**defaults, **parameters}
    conditions: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(evaluate(cfn["Conditions"][name]))
        return conditions[name]

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::Equals":
                return evaluate(arg[0]) == evaluate(arg[1])
            if key == "Fn::Not":
                return not evaluate(arg[0])
            if key == "Condition":
                return condition(arg)
            if key == "Ref" and arg in values:
                return values[arg]
        return node

    def apply(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, yes, no = node["Fn::If"]
                return apply(yes if condition(name) else no)
            out = {k: apply(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v != {"Ref": "AWS::NoValue"}}
        if isinstance(node, list):
            return [apply(v) for v in node if apply(v) != {"Ref": "AWS::NoValue"}]
        return node

    resolved = copy.deepcopy(cfn)
    for section in ("Resources", "Outputs"):
        items = resolved.get(section, {}).items()
        kept = {k: v for k, v in items if "Condition" not in v or condition(v["Condition"])}
        resolved[section] = apply(kept)
    return resolved


def of_type(cfn: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == kind}


def references(node: Any) -> Iterator[str]:
    """Every logical id ``node`` refers to (``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` names)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else str(value).split(".")[0]
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                yield from _SUB_NAME.findall(text)
                if isinstance(value, list):
                    yield from references(value[1])
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def dependency_order(cfn: dict[str, Any]) -> list[str]:
    """The resources in an order CloudFormation can create them (``graphlib.CycleError`` when
    there is a dependency cycle)."""
    resources = cfn["Resources"]
    graph: dict[str, set[str]] = {}
    for name, resource in resources.items():
        needs = set(references(resource.get("Properties", {})))
        depends = resource.get("DependsOn", [])
        needs.update([depends] if isinstance(depends, str) else depends)
        graph[name] = {n for n in needs if n in resources}
    return list(graphlib.TopologicalSorter(graph).static_order())
