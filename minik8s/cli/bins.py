"""`minictl top nodes --bins [-w]`: each node drawn as a bin filled by its pods' requests, one bar for
cpu and one for memory, each pod a segment of its own, so bin packing and consolidation can be watched.
On a terminal the segments are coloured (a colour per pod) and `-w` redraws in place; otherwise they
alternate `#` and `=`, free room is `.`, and `-w` prints one drawing after another. What the bars show
is requests against allocatable, what the scheduler and the cluster autoscaler count, not usage."""
from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field

from minik8s.cli.common import client_for

REFRESH_S = 2.0                    # -w: seconds between drawings
PLAIN_COLUMNS = 80
COLOURS = (32, 34, 35, 36, 33, 31)    # ANSI foreground colours the pods cycle through
PLAIN = "#="
FREE = "."
NAME_MIN, BAR_MIN, BAR_MAX = 8, 10, 60


@dataclass
class Bin:
    name: str
    cpu: int                          # allocatable milli-cpu
    memory: int                       # allocatable bytes
    pods: list = field(default_factory=list)     # (pod key, milli-cpu, bytes) requested

    def used(self, i: int) -> int:
        return sum(p[i] for p in self.pods)


def node_bins(nodes, pods) -> list[Bin]:
    """A Bin per node, its pods (bound, not finished) largest first."""
    from minik8s.api.nodefit import CPU, MEMORY, pod_requests, quantity
    bins = {}
    for n in nodes:
        alloc = n.status.allocatable or n.status.capacity
        bins[n.metadata.name] = Bin(n.metadata.name, quantity(CPU, alloc.get(CPU, "0")),
                                    quantity(MEMORY, alloc.get(MEMORY, "0")))
    for p in pods:
        b = bins.get(p.spec.nodeName)
        if b is None or p.status.phase in ("Succeeded", "Failed"):
            continue
        reqs = pod_requests(p.spec)
        b.pods.append((f"{p.metadata.namespace}/{p.metadata.name}", reqs.get(CPU, 0), reqs.get(MEMORY, 0)))
    for b in bins.values():
        b.pods.sort(key=lambda p: (-p[1], -p[2], p[0]))
    return [bins[k] for k in sorted(bins)]


def bar(b: Bin, i: int, width: int, colour: bool) -> str:
    """The bin's cpu (i=1) or memory (i=2) as `width` cells: a segment per pod, then free room."""
    total = b.cpu if i == 1 else b.memory
    out, filled = [], 0
    for k, pod in enumerate(b.pods):
        # cells up to this pod's end, so rounding never loses a pod's share
        end = min(width, round(width * (b.used(i) if k == len(b.pods) - 1 else
                                        sum(p[i] for p in b.pods[:k + 1])) / total)) if total else 0
        cells = end - filled
        if cells <= 0:
            continue
        out.append(f"\x1b[{COLOURS[k % len(COLOURS)]}m{'█' * cells}\x1b[0m" if colour else PLAIN[k % 2] * cells)
        filled = end
    out.append(FREE * (width - filled))
    return "".join(out)


def _cpu(m: int) -> str:
    return f"{m}m"


def _mem(b: int) -> str:
    return f"{b // 2**20}Mi"


def render(bins: list[Bin], columns: int, colour: bool) -> str:
    name_w = max([NAME_MIN] + [len(b.name) for b in bins])
    width = max(BAR_MIN, min(BAR_MAX, columns - name_w - 36))
    lines = []
    for b in bins:
        for i, label, fmt, total in ((1, "cpu", _cpu, b.cpu), (2, "mem", _mem, b.memory)):
            used = b.used(i)
            pct = used * 100 // total if total else 0
            head = b.name if i == 1 else ""
            tail = f"{len(b.pods)} pods" if i == 1 else ""
            lines.append(f"{head:<{name_w}}  {label} [{bar(b, i, width, colour)}] "
                         f"{fmt(used):>7}/{fmt(total):<7} {pct:>3}%  {tail}".rstrip())
    used_nodes = sum(1 for b in bins if b.pods)
    lines.append(f"{len(bins)} nodes, {used_nodes} with pods; "
                 f"cpu requested {_cpu(sum(b.used(1) for b in bins))} of {_cpu(sum(b.cpu for b in bins))}")
    return "\n".join(lines)


def show_bins(args) -> int:
    tty = sys.stdout.isatty()
    with client_for(args) as c:
        while True:
            nodes = [c.get("Node", args.name)] if args.name else c.list("Node", label_selector=args.selector).items
            # off a terminal the drawing has one width, whatever COLUMNS says: a file of them compares
            columns = shutil.get_terminal_size().columns if tty else PLAIN_COLUMNS
            drawing = render(node_bins(nodes, c.list("Pod").items), columns, tty)
            if getattr(args, "watch", False) and tty:
                print("\x1b[H\x1b[2J", end="")
            print(drawing, flush=True)
            if not getattr(args, "watch", False):
                return 0
            time.sleep(REFRESH_S)
            if not tty:
                print()
