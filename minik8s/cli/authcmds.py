"""`minictl auth can-i`, after kubectl's pkg/cmd/auth/cani.go: asks the API server's authorizer through
a SelfSubjectAccessReview (`VERB TYPE[/NAME] [NAME]`, or `VERB /non-resource-url`) and prints `yes`
(exit 0) or `no` (exit 1, with the authorizer's reason); `--list` prints the caller's rules in a
namespace from a SelfSubjectRulesReview, in kubectl's table. `--as` and `--as-group` ask as another
user, which the server allows only to those who may `impersonate`."""
from __future__ import annotations

import sys

from minik8s.cli.common import CliError, client_for, namespace_of


def _auth_flags(p) -> None:
    p.add_argument("action", choices=["can-i"], metavar="can-i")
    p.add_argument("args", nargs="*", metavar="VERB TYPE[/NAME] [NAME]")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="ask about every namespace")
    p.add_argument("--subresource", default="", help="the subresource (log, exec, status, ...)")
    p.add_argument("--list", action="store_true", help="list every action allowed in the namespace")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing; the exit status answers")
    p.add_argument("--no-headers", action="store_true", help="--list without the header line")
    p.add_argument("--as", dest="as_user", default="", help="ask as this user (impersonation)")
    p.add_argument("--as-group", action="append", default=[], help="ask as a member of this group (repeatable)")


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("auth", "authcmds:cmd_auth", "Inspect authorization", _auth_flags),
]


def _client(args):
    client = client_for(args)
    if args.as_group and not args.as_user:
        raise CliError("requesting groups requires requesting a user too (--as)")
    return client.impersonating(args.as_user, args.as_group) if args.as_user else client


def _resource(word: str) -> tuple[str, str, bool]:
    """(group, plural, namespaced) of a resource word; an unknown one is asked about as written."""
    from minik8s.api.kinds import UnknownKind, lookup
    try:
        info = lookup(word)
    except UnknownKind:
        print(f"Warning: the server doesn't have a resource type '{word}'", file=sys.stderr)
        plural, _, group = word.partition(".")
        return group, plural, True
    return info.group, info.plural, info.namespaced


def access_review(args):
    """The SelfSubjectAccessReview for `VERB TYPE[/NAME] [NAME]` or `VERB /url`."""
    from minik8s.api.pb import rbac_pb2
    review = rbac_pb2.SubjectAccessReview(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectAccessReview")
    words = list(args.args)
    if len(words) < 2:
        raise CliError("you must specify two arguments: verb resource or verb resource/resourceName.")
    verb, target = words[0], words[1]
    if target.startswith("/"):
        review.spec.nonResourceAttributes.path, review.spec.nonResourceAttributes.verb = target, verb
        return review
    word, _, name = target.partition("/")
    if len(words) > 2:
        name = words[2]
    group, plural, namespaced = _resource(word)
    r = review.spec.resourceAttributes
    r.verb, r.group, r.resource, r.subresource, r.name = verb, group, plural, args.subresource, name
    r.namespace = "" if args.all_namespaces or not namespaced else namespace_of(args)
    return review


def _can_i(args) -> int:
    answer = _client(args).review(access_review(args))
    if not args.quiet:
        if answer.status.allowed:
            print("yes")
        else:
            extra = "".join(f" - {s}" for s in (answer.status.reason, answer.status.evaluationError) if s)
            print(f"no{extra}")
    return 0 if answer.status.allowed else 1


def _go_list(items) -> str:
    return "[" + " ".join(items) + "]"


def rules_table(status, headers: bool = True) -> str:
    """kubectl's --list table: each rule broken down per group and resource (or URL), verbs merged."""
    from minik8s.cli.printers import tabwrite
    rows: dict[tuple, list[str]] = {}
    for rule in status.resourceRules:
        for group in rule.apiGroups:
            for resource in rule.resources:
                key = (f"{resource}.{group}" if group else resource, tuple(rule.resourceNames), ())
                rows.setdefault(key, [])
                rows[key] += [v for v in rule.verbs if v not in rows[key]]
    for rule in status.nonResourceRules:
        for url in rule.nonResourceURLs:
            key = ("", (), (url,))
            rows.setdefault(key, [])
            rows[key] += [v for v in rule.verbs if v not in rows[key]]
    lines = ["Resources\tNon-Resource URLs\tResource Names\tVerbs"] if headers else []
    for (resource, names, urls), verbs in sorted(rows.items()):
        lines.append(f"{resource}\t{_go_list(urls)}\t{_go_list(names)}\t{_go_list(verbs)}")
    return tabwrite(lines)


def _list(args) -> int:
    from minik8s.api.pb import rbac_pb2
    review = rbac_pb2.SelfSubjectRulesReview(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectRulesReview")
    review.spec.namespace = namespace_of(args)
    status = _client(args).review(review).status
    if status.incomplete and not args.quiet:
        print(f"warning: the list may be incomplete: {status.evaluationError}", file=sys.stderr)
    print(rules_table(status, not args.no_headers))
    return 0


def cmd_auth(args) -> int:
    if args.list:
        if args.args:
            raise CliError("--list does not take arguments: it lists every action allowed in the namespace")
        return _list(args)
    return _can_i(args)
