"""Remote agents: the protocol an agent speaks with the server, and the agent process.

An agent is a light process on another host that dials out to the server (never the other
way round), claims the job runs routed to it, runs them with the server's own executors and
reports their output and results. See ``docs/agents.md``.
"""
