"""The live web dashboard (`minictl dashboard`, `python -m minik8s.dashboard`): a read-only page that
shows the cluster's concepts as they move (nodes as bins, rollouts, jobs' attempts, autoscaling, the
scheduler's decisions, events). Like every component it reads the cluster only through the API server:
each page's bearer token opens watches of its own (`feed.py`), so a page sees what its token may list.
`server.py` serves the page (`static/`, plain ES modules and SVG, no build step) on loopback and pushes
changes to it as server-sent events; `summaries.py` reduces each object to what the page draws."""
