"""Reads the deployment files in docker/ the way Docker Compose, Prometheus and Grafana would
(YAML and JSON), checks that every file the compose file mounts exists, and prints what the Rust
test checks further: the compose services, the dashboard's panel titles and PromQL expressions,
and the datasource uid they refer to.

Usage: config_check.py <docker folder>
"""

import json
import os
import sys

import yaml


def main() -> None:
    docker = sys.argv[1]
    problems = []
    compose = yaml.safe_load(open(os.path.join(docker, "compose.yaml"), encoding="utf-8"))
    for name, service in compose.get("services", {}).items():
        for volume in service.get("volumes", []) or []:
            source = volume.split(":")[0] if isinstance(volume, str) else ""
            if source.startswith("./") and not os.path.exists(os.path.join(docker, source)):
                problems.append(f"{name} mounts {source}, which does not exist")
    prometheus = yaml.safe_load(open(os.path.join(docker, "prometheus.yml"), encoding="utf-8"))
    provisioning = {}
    root = os.path.join(docker, "grafana", "provisioning")
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            provisioning[os.path.relpath(path, root)] = yaml.safe_load(open(path, encoding="utf-8"))
    datasource_uids = [
        d.get("uid")
        for doc in provisioning.values()
        for d in (doc or {}).get("datasources", [])
    ]
    dashboards = {}
    folder = os.path.join(docker, "grafana", "dashboards")
    for f in sorted(os.listdir(folder)):
        dashboards[f] = json.load(open(os.path.join(folder, f), encoding="utf-8"))
    panels = [
        {
            "title": p.get("title"),
            "datasource": (p.get("datasource") or {}).get("uid"),
            "exprs": [t.get("expr") for t in p.get("targets", [])],
        }
        for d in dashboards.values()
        for p in d.get("panels", [])
    ]
    print(
        json.dumps(
            {
                "problems": problems,
                "services": sorted(compose.get("services", {})),
                "scrape_targets": [
                    t
                    for job in prometheus.get("scrape_configs", [])
                    for c in job.get("static_configs", [])
                    for t in c.get("targets", [])
                ],
                "datasource_uids": datasource_uids,
                "dashboards": sorted(dashboards),
                "panels": panels,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
