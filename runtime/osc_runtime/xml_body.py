"""XML bodies (Kobo and ODK instances, CommCare forms, SOAP) as JSON, by one fixed mapping.

The parser is hardened (defusedxml): a document type declaration is refused outright, so no
entity is ever declared, expanded or fetched (no billion laughs, no external entities).

The mapping (shown on a CommCare form in the README):
- the document is `{"<root element name>": <its value>}`;
- an element's name is its local name, without prefix (`soapenv:Envelope` → `Envelope`);
- an element with no attributes and no child elements is its text, a string (`""` if empty);
- any other element is an object: attributes as `"@<name>"`, children by name, and its
  non-blank text as `"#text"`;
- a child name that appears more than once is an array of the values, in document order;
- an object whose element is in another namespace than its parent's gets `"@xmlns":
  "<namespace URI>"` (a text-only element stays a plain string: `<sf:Email>` is its text); an
  attribute in a namespace keeps its prefix (`"@xsi:type"`), since two may share a local name;
- text is stripped of surrounding whitespace; CDATA is text; comments and processing
  instructions are dropped; values are never converted to numbers or booleans.
"""

from __future__ import annotations

import io
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

MAX_DEPTH = 100


class XmlError(ValueError):
    """The body is not XML we accept; the message says why."""


def parse_xml(raw: bytes) -> dict[str, Any]:
    try:
        return _convert(raw)
    except DefusedXmlException:
        raise XmlError("the XML declares a document type or entities, which are not "
                       "accepted (no DTD, no entity expansion)") from None
    except ParseError as error:
        line, column = error.position
        raise XmlError(f"the body is not well-formed XML: {_reason(error)} at line {line} "
                       f"column {column + 1}") from None


def _reason(error: ParseError) -> str:
    return str(error).split(":")[0]


def _convert(raw: bytes) -> dict[str, Any]:
    scopes: list[dict[str, str]] = []  # uri → prefix declared on each open element
    values: list[list[tuple[str, Any]]] = [[]]  # the converted children of each open element
    namespaces: list[str] = [""]
    pending: dict[str, str] = {}
    for event, item in iterparse(io.BytesIO(raw), events=("start-ns", "start", "end"),
                                 forbid_dtd=True):
        if event == "start-ns":
            prefix, uri = item
            pending[uri] = prefix
        elif event == "start":
            scopes.append(pending)
            pending = {}
            values.append([])
            namespaces.append(_split(item.tag)[0])
            if len(scopes) > MAX_DEPTH:
                raise XmlError(f"the XML is nested deeper than {MAX_DEPTH} levels")
        else:
            children = values.pop()
            namespace = namespaces.pop()
            value = _element(item, children, namespace, namespaces[-1], scopes)
            scopes.pop()
            values[-1].append((_split(item.tag)[1], value))
            del item[:]  # its value is built (children's tails read): the tree need not stay
    (root_name, root_value), = values[0]
    return {root_name: root_value}


def _element(element: Element, children: list[tuple[str, Any]], namespace: str,
             parent_namespace: str, scopes: list[dict[str, str]]) -> Any:
    text = "".join([element.text or "", *(child.tail or "" for child in element)]).strip()
    if not element.attrib and not children:
        return text
    result: dict[str, Any] = {}
    if namespace != parent_namespace:
        result["@xmlns"] = namespace
    for name, value in element.attrib.items():
        result["@" + _attribute_name(name, scopes)] = value
    for name, value in children:
        if name not in result:
            result[name] = value
        elif isinstance(result[name], list):  # an element's own value is never a list
            result[name].append(value)
        else:
            result[name] = [result[name], value]
    if text:
        result["#text"] = text
    return result


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _attribute_name(name: str, scopes: list[dict[str, str]]) -> str:
    namespace, local = _split(name)
    if not namespace:
        return local
    for scope in reversed(scopes):
        if scope.get(namespace):
            return f"{scope[namespace]}:{local}"
    return local
