# -*- coding: utf-8 -*-
# Copyright: contributors to aigateway.bifrost
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON merge engine behind ``aigateway.bifrost.json_merge``.

Pure Python (standard library only, Python 3.8+), so the same code runs in the module on a target and in the action
plugin on the controller.

Semantics, in short:

* Objects merge deeply; a ``null`` in the content deletes that key (RFC 7386 merge patch).
* Lists are replaced (``list_merge="replace"``), or the content's items that are missing are added at the end
  (``append_unique``) or at the start (``prepend_unique``), so a second run adds nothing.
* A key that holds different kinds of value on the two sides (object, list, plain value) is a type clash and fails
  naming the key path, unless ``force``. A ``null`` in the file is not a clash: it is simply replaced.
* ``state="absent"`` removes what the same content would set: the leaf keys it names, whatever their current value
  (the caller owns those keys; with ``list_merge="replace"`` a list is such a leaf), and its items from lists merged
  with ``append_unique``/``prepend_unique``. Objects and lists that the removal leaves empty are removed too (also one
  that was empty before the content filled it: nothing records that). An empty object or list in the content removes
  that key when it is empty in the file. ``null`` in the content removes nothing. Absent never fails on a type clash:
  where the file holds something else than the content describes, there is nothing of the content's to remove.
  So present then absent with the same content gives back the original document whenever the content only added keys.
* ``changed`` is decided on parsed data with a type-aware equality (``1``, ``1.0`` and ``true`` all differ), never on
  text, so a file that differs only in formatting is not rewritten.
* Parsing is strict JSON: comments, trailing commas, NaN/Infinity and duplicate keys fail with the file named (and line
  and column where the parser knows them). ``allow_comments`` strips ``//`` and ``/* */`` comments and trailing commas
  (lossy: they are not written back). An empty or blank text is ``{}``; a UTF-8 BOM is accepted and not written back.
* Output keeps the key order (new keys at the end), the indentation (detected from the first indented line, else 2),
  the trailing newline (or its absence; new documents end with one), the line ending (LF or CRLF) and non-ASCII text.

Key paths (``changed_keys``, ``secret_keys``) are the keys joined with ``.``; a literal ``.`` or ``\\`` inside a key is
escaped with a backslash: ``{"a.b": {"c": 1}}`` has the path ``a\\.b.c``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import math
import re

STATES = ("present", "absent")
LIST_MERGE_MODES = ("replace", "append_unique", "prepend_unique")
DEFAULT_INDENT = 2

_MISSING = object()
_TYPE_ARTICLES = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "a list",
    "object": "an object",
}
# The first indented line of a pretty-printed document tells its indent unit.
_INDENT_RE = re.compile(r"\n([ \t]+)[^ \t\r\n]")
_NOT_NEWLINE_RE = re.compile(r"[^\n]")
# Used by the comment scanner: runs of characters that need no decision (no backtracking, each matched once).
_STRING_BODY_RE = re.compile(r'[^"\\\n]*')
_PLAIN_RE = re.compile(r'[^"/,\]} \t\r\n]+')
MASK = "********"


class JsonMergeError(Exception):
    """A merge that cannot be done; the message names the source and the key path or the line and column."""


class MergeResult:
    """What a merge did.

    ``changed``: the parsed data changed. ``before``: the original text ("" for none). ``after``: the text to write
    (``before`` itself when not changed). ``data``: the resulting document. ``changed_keys``: key paths that changed.
    ``secrets``: the string values found at ``secret_keys`` in the old document, the content and the new document.

    ``after`` is put together on first use; `chunks` gives the same text piece by piece without building it, so that
    writing a large file does not hold a second copy of it in memory.
    """

    __slots__ = ("changed", "before", "data", "changed_keys", "secrets", "_pieces", "_source", "_after")

    def __init__(self, changed, before, after, data, changed_keys, secrets, pieces=None, source=None):
        self.changed = changed
        self.before = before
        self.data = data
        self.changed_keys = changed_keys
        self.secrets = secrets
        # pieces: strings, and (start, end) spans of source (the original text) copied as they are.
        self._pieces = pieces
        self._source = source
        self._after = after

    @property
    def after(self):
        if self._after is None:
            self._after = "".join(self.chunks())
            self._pieces = self._source = None
        return self._after

    def chunks(self, size=1 << 20):
        """The text of ``after`` in pieces of about ``size`` characters."""
        if self._after is not None:
            for start in range(0, len(self._after), size):
                yield self._after[start:start + size]
            return
        for piece in self._pieces:
            if isinstance(piece, str):
                yield piece
            else:
                for start in range(piece[0], piece[1], size):
                    yield self._source[start:min(start + size, piece[1])]

    def __repr__(self):
        return "MergeResult(changed=%r, changed_keys=%r)" % (self.changed, self.changed_keys)


class _DuplicateKeyError(ValueError):
    pass


class _NonStandardConstantError(ValueError):
    pass


# Key paths


def join_key_path(keys):
    """Join keys into a dotted key path, escaping ``\\`` and ``.`` inside keys with a backslash."""
    return ".".join(key.replace("\\", "\\\\").replace(".", "\\.") for key in keys)


def split_key_path(key_path):
    """Split a dotted key path into its keys (the inverse of `join_key_path`); a backslash takes the next character."""
    keys = []
    current = []
    escaped = False
    for char in key_path:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            keys.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise JsonMergeError("key path %r ends with a lone backslash" % key_path)
    keys.append("".join(current))
    return keys


# Types and equality


def _json_type(value):
    """The JSON type name of a value: null, boolean, integer, number, string, array or object (None if not JSON)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def json_equal(left, right):
    """Type-aware equality of two JSON values: ``1``, ``1.0`` and ``true`` all differ; object key order does not count."""
    left_type = _json_type(left)
    if left_type != _json_type(right):
        return False
    if left_type == "object":
        if len(left) != len(right):
            return False
        for key, value in left.items():
            if key not in right or not json_equal(value, right[key]):
                return False
        return True
    if left_type == "array":
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right))
    return left == right


def _canonical(value):
    # A text that is equal for JSON-equal values and differs for 1, 1.0 and true: for list membership tests.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _kind(value):
    # What a type clash is about: objects, lists and plain values do not replace each other silently.
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "scalar"


# Parsing and dumping


def _object_from_pairs(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return obj


def _reject_constant(name):
    raise _NonStandardConstantError(name)


_DECODER = json.JSONDecoder(object_pairs_hook=_object_from_pairs, parse_constant=_reject_constant)


def _decode(text, source):
    try:
        return _DECODER.decode(text)
    except _DuplicateKeyError as exc:
        raise JsonMergeError('%s: duplicate key "%s" in an object; a document with repeated keys is ambiguous' % (source, exc.args[0])) from None
    except _NonStandardConstantError as exc:
        raise JsonMergeError("%s: %s is not valid JSON" % (source, exc.args[0])) from None
    except json.JSONDecodeError as exc:
        hint = ""
        # Python 3.13 and later report a trailing comma at the comma ("Illegal trailing comma..."), older ones after it.
        if (text[exc.pos:exc.pos + 1] == "/" or exc.msg.startswith("Illegal trailing comma")
                or re.search(r",\s*\Z", text[max(0, exc.pos - 200):exc.pos])):
            hint = " (comments and trailing commas are not JSON; allow_comments strips them)"
        raise JsonMergeError("%s: invalid JSON at line %d, column %d: %s%s" % (source, exc.lineno, exc.colno, exc.msg, hint)) from None
    except RecursionError:
        raise JsonMergeError("%s: the document is nested too deeply" % source) from None
    except ValueError as exc:
        # For example an integer with more digits than Python converts.
        raise JsonMergeError("%s: invalid JSON: %s" % (source, exc)) from None


def strip_comments(text, stats=None):
    """Blank ``//`` and ``/* */`` comments and trailing commas with spaces (newlines kept, so line and column numbers
    stay right); strings are kept as they are. One pass over the text, each character looked at a bounded number of
    times: linear time whatever the input (a backtracking regular expression took exponential time on some inputs).

    ``stats`` (a dict, optional) receives ``steps``: the number of scanner steps, at most ``len(text)``.
    An unterminated comment or string is left as it is, for the parser to report with its line and column.
    """
    blanks = []
    pending_comma = None
    index = 0
    steps = 0
    length = len(text)
    while index < length:
        steps += 1
        char = text[index]
        if char == '"':
            end = index + 1
            while True:
                end = _STRING_BODY_RE.match(text, end).end()
                if end < length and text[end] == "\\":
                    end += 2
                    continue
                break
            index = end + 1 if end < length and text[end] == '"' else length if end >= length else end
            pending_comma = None
        elif char == "/" and text.startswith("//", index):
            end = text.find("\n", index)
            end = length if end < 0 else end
            blanks.append((index, end))
            index = end
        elif char == "/" and text.startswith("/*", index):
            end = text.find("*/", index + 2)
            if end < 0:
                break
            blanks.append((index, end + 2))
            index = end + 2
        elif char == ",":
            pending_comma = index
            index += 1
        elif char in "]}":
            if pending_comma is not None:
                blanks.append((pending_comma, pending_comma + 1))
                pending_comma = None
            index += 1
        elif char in " \t\r\n":
            index += 1
        else:
            pending_comma = None
            match = _PLAIN_RE.match(text, index)
            index = match.end() if match else index + 1
    if stats is not None:
        stats["steps"] = steps
    if not blanks:
        return text
    blanks.sort()
    pieces = []
    copied = 0
    for start, end in blanks:
        pieces.append(text[copied:start])
        pieces.append(_NOT_NEWLINE_RE.sub(" ", text[start:end]))
        copied = end
    pieces.append(text[copied:])
    return "".join(pieces)


class _Layout:
    """Where each top-level member sits in a text laid out one member per line (as `dump_json` writes it).

    Members that a merge does not touch are copied from the text as they are, so only the patched subtrees are
    serialized again: merging a few keys into a large file costs one parse and a few small dumps.
    """

    __slots__ = ("text", "spans", "indent")

    def __init__(self, text, spans, indent):
        self.text = text
        self.spans = spans
        self.indent = indent


_WHITESPACE_RE = re.compile(r"[ \t\n\r]*")
_MEMBER_PREFIX_RE = re.compile(r'\r?\n(\t| +)(?=")')


def _scan_members(text):
    """Parse a top-level object member by member with the C scanner.

    Returns the members' spans and values and the indent unit, or None when the text is not laid out one member per
    line with the same indent (as `dump_json` writes it) or has an error: the caller then parses the whole text again,
    which reports an error with its line and column.
    """
    index = _WHITESPACE_RE.match(text).end()
    if text[index:index + 1] != "{":
        return None
    index += 1
    match = _MEMBER_PREFIX_RE.match(text, index)
    if not match:
        return None
    prefix = match.group(0)
    spans = {}
    while True:
        if not text.startswith(prefix, index) or text[index + len(prefix):index + len(prefix) + 1] != '"':
            return None
        start = index + len(prefix)
        key, index = json.decoder.scanstring(text, start + 1)
        if key in spans or text[index:index + 2] != ": ":
            return None
        value, index = _DECODER.scan_once(text, index + 2)
        spans[key] = (start, index, value)
        if text[index:index + 1] != ",":
            break
        index += 1
    newline = prefix[:-len(match.group(1))]
    if not text.startswith(newline + "}", index) or _WHITESPACE_RE.match(text, index + len(newline) + 1).end() != len(text):
        return None
    return spans, match.group(1)


def _parse(text, allow_comments, source):
    """The document, and its `_Layout` when its members can be copied on output (else None)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text or text.isspace():
        return {}, None
    try:
        scanned = _scan_members(text)
    except (ValueError, StopIteration, RecursionError):
        scanned = None
    if scanned is not None:
        spans, indent = scanned
        document = dict((key, span[2]) for key, span in spans.items())
        return document, _Layout(text, dict((key, span[:2]) for key, span in spans.items()), indent)
    try:
        document = _decode(text, source)
    except JsonMergeError:
        if not allow_comments:
            raise
        document = _decode(strip_comments(text), source)
    if not isinstance(document, dict):
        raise JsonMergeError("%s: the top-level value is %s, not an object" % (source, _TYPE_ARTICLES.get(_json_type(document), "not JSON")))
    return document, None


def parse_json(text, allow_comments=False, source="<string>"):
    """Parse a document strictly; None, empty or blank text is ``{}``; the root must be an object."""
    return _parse(text or "", allow_comments, source)[0]


def detect_indent(text):
    """The indent unit of a document: the leading whitespace of its first indented line (a tab or N spaces), else 2."""
    match = _INDENT_RE.search(text or "")
    if not match:
        return DEFAULT_INDENT
    whitespace = match.group(1)
    if whitespace[0] == "\t":
        return "\t"
    return len(whitespace) - len(whitespace.lstrip(" "))


def dump_json(data, indent=DEFAULT_INDENT, trailing_newline=True, line_ending="\n"):
    """Serialize a document: key order kept, never sorted, non-ASCII text as is."""
    try:
        text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False, separators=(",", ": "))
    except (TypeError, ValueError) as exc:
        raise JsonMergeError("cannot write the document as JSON: %s" % exc) from None
    if trailing_newline:
        text += "\n"
    if line_ending != "\n":
        text = text.replace("\n", line_ending)
    return text


def _splice(document, layout, touched, line_ending):
    """The new text as pieces: untouched members as spans of the original text, the others serialized again."""
    unit = layout.indent
    member_start = line_ending + unit
    pieces = ["{"]
    for key, value in document.items():
        pieces.append(member_start if len(pieces) == 1 else "," + member_start)
        span = layout.spans.get(key)
        if span is not None and key not in touched:
            pieces.append(span)
        else:
            pieces.append("%s: %s" % (
                json.dumps(key, ensure_ascii=False),
                dump_json(value, indent=unit, trailing_newline=False, line_ending=member_start),
            ))
    pieces.append(line_ending + "}")
    return pieces


def _line_ending(text):
    first_newline = text.find("\n")
    if first_newline > 0 and text[first_newline - 1] == "\r":
        return "\r\n"
    return "\n"


# The content


def _copy_content(value, keys, source):
    """A plain copy of the content, checked to be JSON (so the document never shares objects with the caller)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise JsonMergeError("%s: content at %s holds %r, which is not valid JSON" % (source, _describe_path(keys), value))
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_copy_content(item, keys, source) for item in value]
    if isinstance(value, dict):
        copied = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise JsonMergeError("%s: content at %s has the key %r, but JSON object keys are strings" % (source, _describe_path(keys), key))
            copied[str(key)] = _copy_content(item, keys + [key], source)
        return copied
    raise JsonMergeError("%s: content at %s holds a %s, which JSON cannot represent" % (source, _describe_path(keys), type(value).__name__))


def _describe_path(keys):
    return 'key "%s"' % join_key_path(keys) if keys else "the top level"


def _unique(items):
    seen = set()
    result = []
    for item in items:
        canonical = _canonical(item)
        if canonical not in seen:
            seen.add(canonical)
            result.append(item)
    return result


# Merging (state=present)


def _clash(source, keys, current, value):
    return JsonMergeError(
        '%s: type clash at key "%s": the file has %s, the content has %s (force replaces it)'
        % (source, join_key_path(keys), _TYPE_ARTICLES[_json_type(current)], _TYPE_ARTICLES[_json_type(value)])
    )


def _merge(target, patch, path, options, changed_keys):
    list_merge, force, source = options
    for key, value in patch.items():
        keys = path + [key]
        current = target.get(key, _MISSING)
        if value is None:
            if current is not _MISSING:
                del target[key]
                changed_keys.append(join_key_path(keys))
            continue
        if current is not _MISSING and current is not None and _kind(current) != _kind(value) and not force:
            raise _clash(source, keys, current, value)
        if isinstance(value, dict):
            if isinstance(current, dict):
                _merge(current, value, keys, options, changed_keys)
            else:
                # A new object: its leaves are the changed keys (the object itself when it stays empty).
                # A replaced value (null, or anything with force): the key itself, then its leaves.
                recorded = len(changed_keys)
                target[key] = {}
                _merge(target[key], value, keys, options, changed_keys)
                if current is not _MISSING or len(changed_keys) == recorded:
                    changed_keys.insert(recorded, join_key_path(keys))
        elif isinstance(value, list) and list_merge != "replace":
            items = _unique(value)
            if not isinstance(current, list):
                target[key] = items
                changed_keys.append(join_key_path(keys))
                continue
            present = set(_canonical(item) for item in current)
            missing = [item for item in items if _canonical(item) not in present]
            if missing:
                if list_merge == "append_unique":
                    current.extend(missing)
                else:
                    current[:0] = missing
                changed_keys.append(join_key_path(keys))
        elif current is _MISSING or not json_equal(current, value):
            target[key] = value
            changed_keys.append(join_key_path(keys))


# Removing (state=absent)


def _remove(target, patch, path, list_merge, changed_keys):
    for key, value in patch.items():
        if value is None or key not in target:
            continue
        keys = path + [key]
        current = target[key]
        if isinstance(value, dict):
            if not isinstance(current, dict):
                continue
            size_before = len(current)
            _remove(current, value, keys, list_merge, changed_keys)
            # An object the removal emptied goes; so does an empty one that the content names as just an object.
            if not current and (size_before or all(item is None for item in value.values())):
                del target[key]
                changed_keys.append(join_key_path(keys))
        elif isinstance(value, list) and list_merge != "replace":
            if not isinstance(current, list):
                continue
            if not value:
                if not current:
                    del target[key]
                    changed_keys.append(join_key_path(keys))
                continue
            unwanted = set(_canonical(item) for item in value)
            kept = [item for item in current if _canonical(item) not in unwanted]
            if len(kept) != len(current):
                if kept:
                    current[:] = kept
                else:
                    del target[key]
                changed_keys.append(join_key_path(keys))
        else:
            del target[key]
            changed_keys.append(join_key_path(keys))


# Secrets


def _collect_strings(value, found):
    if isinstance(value, str):
        if value and value not in found:
            found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, found)


def secret_values(data, secret_keys, found=None):
    """The non-empty strings at the given key paths of ``data`` (all strings inside an object or list found there).

    ``found`` is a list to extend (values already in it are not repeated); the list is returned.
    """
    found = [] if found is None else found
    for key_path in secret_keys or ():
        node = data
        for key in split_key_path(key_path):
            if not isinstance(node, dict) or key not in node:
                node = _MISSING
                break
            node = node[key]
        if node is not _MISSING:
            _collect_strings(node, found)
    return found


def secret_forms(secrets):
    """Every way a secret can appear in JSON text: as is, JSON-escaped (a value holding ``"`` or ``\\``), and escaped
    with non-ASCII characters as ``\\uXXXX``; longest first, so that no part of a longer one is left."""
    forms = set()
    for secret in secrets or ():
        if not secret:
            continue
        forms.add(secret)
        forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
        forms.add(json.dumps(secret)[1:-1])
    return sorted((form for form in forms if form), key=len, reverse=True)


def mask_secrets(text, secrets):
    """``text`` with every form of every secret (see `secret_forms`) replaced by ``********``."""
    if not text:
        return text
    for form in secret_forms(secrets):
        text = text.replace(form, MASK)
    return text


# Diffs


def changed_view(data, key_paths):
    """The part of ``data`` at ``key_paths`` (copied), in its nesting: what a diff shows of a document.

    Paths that ``data`` does not have are left out, so a key the merge added is missing from the view of the old
    document and a key it removed is missing from the view of the new one.
    """
    view = {}
    for key_path in key_paths:
        keys = split_key_path(key_path)
        node = data
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                node = _MISSING
                break
            node = node[key]
        if node is _MISSING or not keys:
            continue
        target = view
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[keys[-1]] = copy.deepcopy(node)
    return view


def diff_texts(merged):
    """The before and after texts of a diff of ``merged``: only the keys that changed, never the rest of the file.

    Whatever else the file holds (another tool's tokens, a user's own keys) stays out of the diff, whoever wrote it and
    whether or not its keys are in ``secret_keys``. A file that was missing or blank shows its whole new text.
    """
    if not merged.before.strip():
        return merged.before, merged.after
    before, dummy = _parse(merged.before, True, "<diff>")
    return (dump_json(changed_view(before, merged.changed_keys)),
            dump_json(changed_view(merged.data, merged.changed_keys)))


# The entry point


def merge_json_text(text, content, state="present", list_merge="replace", force=False,
                    allow_comments=False, indent=None, source="<string>", secret_keys=None):
    """Merge ``content`` into (or with ``state="absent"`` remove it from) the JSON document ``text``.

    ``text`` None or "" is an empty document. ``indent`` None keeps the document's own indent (else 2); an int or "\\t"
    sets it for a rewritten document. Returns a `MergeResult`; raises `JsonMergeError` naming ``source``.
    """
    if state not in STATES:
        raise JsonMergeError("%s: state must be one of %s, not %r" % (source, ", ".join(STATES), state))
    if list_merge not in LIST_MERGE_MODES:
        raise JsonMergeError("%s: list_merge must be one of %s, not %r" % (source, ", ".join(LIST_MERGE_MODES), list_merge))
    if not isinstance(content, dict):
        raise JsonMergeError("%s: content must be an object (a dict), not %s" % (source, type(content).__name__))
    if indent is not None and indent != "\t" and (isinstance(indent, bool) or not isinstance(indent, int) or indent < 0):
        raise JsonMergeError("%s: indent must be a number of spaces (0 or more), not %r" % (source, indent))
    patch = _copy_content(content, [], source)
    before = text or ""
    document, layout = _parse(before, allow_comments, source)
    secrets = secret_values(document, secret_keys)
    secret_values(patch, secret_keys, secrets)

    changed_keys = []
    touched = set()
    for key, value in patch.items():
        recorded = len(changed_keys)
        if state == "present":
            _merge(document, {key: value}, [], (list_merge, force, source), changed_keys)
        else:
            _remove(document, {key: value}, [], list_merge, changed_keys)
        if len(changed_keys) > recorded:
            touched.add(key)
    secret_values(document, secret_keys, secrets)

    if not changed_keys:
        return MergeResult(False, before, before, document, [], secrets)
    blank = not before or before.isspace()
    trailing_newline = blank or before.endswith("\n")
    line_ending = "\n" if blank else _line_ending(before)
    if layout is not None and document and (indent is None or _indent_unit(indent) == layout.indent):
        pieces = _splice(document, layout, touched, line_ending)
        if trailing_newline:
            pieces.append(line_ending)
        return MergeResult(True, before, None, document, changed_keys, secrets, pieces=pieces, source=layout.text)
    after = dump_json(
        document,
        indent=detect_indent(before) if indent is None else indent,
        trailing_newline=trailing_newline,
        line_ending=line_ending,
    )
    return MergeResult(True, before, after, document, changed_keys, secrets)


def _indent_unit(indent):
    return indent if isinstance(indent, str) else " " * indent
