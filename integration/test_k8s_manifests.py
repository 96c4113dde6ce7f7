"""The Kubernetes manifests in docker/k8s/: every document passes the schema validator
(docker/k8s/validate, Kubernetes OpenAPI schemas through kubernetes-models, unknown fields
rejected), broken documents are rejected with the right message, and the deployment choices the
manifests promise hold: restrictive securityContext, probes on the image's ports, a LoadBalancer
Service with externalTrafficPolicy Local selecting the proxy pods, the same pod in the
Deployment and the DaemonSet, and ConfigMap configurations the proxy accepts.

No cluster is needed. The validator's npm packages are installed with `npm ci` from its lock file
into a temporary copy, once for the whole class.
"""
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

K8S_DIR = os.path.join(harness.SOURCE_DIR, "docker", "k8s")
VALIDATE_DIR = os.path.join(K8S_DIR, "validate")
DOCKERFILE = os.path.join(harness.SOURCE_DIR, "docker", "Dockerfile")
MANIFESTS = sorted(glob.glob(os.path.join(K8S_DIR, "*.yaml")))
WORKLOAD_KINDS = ("Deployment", "DaemonSet")

# Each case changes one thing in a real manifest (the first occurrence of `old`) and names the
# message the validator must give for that file.
BROKEN_CASES = [
    ("unknown_field", "deployment.yaml", "readOnlyRootFilesystem: true",
     "readOnlyRootFileSystem: true", "'\"readOnlyRootFileSystem\"' does not exist"),
    ("wrong_type", "deployment.yaml", "replicas: 3", 'replicas: "3"',
     "replicas must be integer"),
    ("missing_required_field", "service.yaml", "      port: 80\n", "",
     "must have required property port"),
    ("bad_enum_value", "service.yaml", "\n  externalTrafficPolicy: Local\n",
     "\n  externalTrafficPolicy: Locale\n", "must be equal to one of the allowed values"),
    ("unknown_kind", "pdb.yaml", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets",
     'unknown apiVersion/kind "policy/v1" "PodDisruptionBudgets"'),
    ("duplicate_key", "configmap.yaml", "  name: realip-proxy\n",
     "  name: realip-proxy\n  name: other\n", "Map keys must be unique"),
    ("yaml_syntax", "pdb.yaml", "maxUnavailable: 1", "maxUnavailable: [1", "YAML:"),
    ("crd_field_pattern", "prometheusrule.yaml", "for: 2m", "for: 2 minutes",
     "for must match pattern"),
    ("alert_severity", "prometheusrule.yaml", "severity: critical", "severity: page",
     "labels.severity must be one of"),
    ("alert_without_description", "prometheusrule.yaml", "          annotations:\n",
     "          annotations:\n            runbook_url: https://example.com/\n"
     "          x-annotations:\n", "annotations.summary is required"),
]


def run(args, cwd, timeout=300):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


class K8sManifestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("node", "npm"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is missing: run scripts/deps.sh test")
        cls.tool_dir = tempfile.mkdtemp(prefix="realip-k8s-")
        for name in ("package.json", "package-lock.json", "validate.mjs"):
            shutil.copy(os.path.join(VALIDATE_DIR, name), cls.tool_dir)
        npm = run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cls.tool_dir)
        if npm.returncode != 0:
            shutil.rmtree(cls.tool_dir, ignore_errors=True)
            raise RuntimeError(f"npm ci failed:\n{npm.stdout}\n{npm.stderr}")
        cls.docs = cls._load_documents(MANIFESTS)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tool_dir, ignore_errors=True)

    @classmethod
    def _load_documents(cls, files):
        """Parses the manifests with the validator's own YAML package: [(file, object)]."""
        script = ("import fs from 'node:fs'; import YAML from 'yaml';"
                  "const out = [];"
                  "for (const f of process.argv.slice(1))"
                  "  for (const d of YAML.parseAllDocuments(fs.readFileSync(f, 'utf8')))"
                  "    if (d.toJS() != null) out.push([f, d.toJS()]);"
                  "console.log(JSON.stringify(out));")
        result = run(["node", "--input-type=module", "-e", script, *files], cls.tool_dir)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        return [(os.path.basename(f), d) for f, d in json.loads(result.stdout)]

    def validate(self, files):
        return run(["node", "validate.mjs", *files], self.tool_dir)

    def objects(self, kind, file=None):
        return [d for f, d in self.docs if d["kind"] == kind and (file is None or f == file)]

    def workloads(self):
        return [d for _, d in self.docs if d["kind"] in WORKLOAD_KINDS]

    def proxy_containers(self):
        for w in self.workloads():
            for c in w["spec"]["template"]["spec"]["containers"]:
                if c["name"] == "realip-proxy":
                    yield w, c

    # --- the validator ---------------------------------------------------------------------

    def test_every_manifest_passes_the_validator(self):
        self.assertTrue(MANIFESTS)
        result = self.validate(MANIFESTS)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertNotIn("ERROR", result.stdout)
        self.assertRegex(result.stdout, rf"\b{len(self.docs)} documents in {len(MANIFESTS)} "
                                        r"files, 0 errors")

    def test_broken_manifests_are_rejected(self):
        workdir = tempfile.mkdtemp(prefix="realip-k8s-broken-")
        self.addCleanup(shutil.rmtree, workdir, True)
        files = {}
        for name, source, old, new, _ in BROKEN_CASES:
            with open(os.path.join(K8S_DIR, source)) as f:
                text = f.read()
            self.assertIn(old, text, f"case {name}: {source} changed, update the case")
            path = os.path.join(workdir, f"{name}.yaml")
            with open(path, "w") as f:
                f.write(text.replace(old, new, 1))
            files[name] = path
        result = self.validate(list(files.values()))
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR ")]
        for name, _, _, _, expected in BROKEN_CASES:
            with self.subTest(case=name):
                mine = [e for e in errors if e.startswith(f"ERROR {files[name]} ")]
                self.assertTrue(any(expected in e for e in mine),
                                f"no error containing {expected!r} among {mine}")

    def test_each_check_alone_rejects_its_case(self):
        # The whole-file run above could pass on another case's message; one file at a time
        # shows each case fails by itself.
        workdir = tempfile.mkdtemp(prefix="realip-k8s-alone-")
        self.addCleanup(shutil.rmtree, workdir, True)
        for name, source, old, new, expected in BROKEN_CASES[:2]:
            with self.subTest(case=name):
                with open(os.path.join(K8S_DIR, source)) as f:
                    text = f.read().replace(old, new, 1)
                path = os.path.join(workdir, f"{name}.yaml")
                with open(path, "w") as f:
                    f.write(text)
                result = self.validate([path])
                self.assertEqual(result.returncode, 1, result.stdout)
                self.assertIn(expected, result.stdout)

    # --- what the manifests promise ----------------------------------------------------------

    def test_the_issue_lists_these_objects(self):
        kinds = {d["kind"] for _, d in self.docs}
        self.assertLessEqual({"ConfigMap", "Deployment", "DaemonSet", "Service",
                              "PodDisruptionBudget", "PrometheusRule"}, kinds)
        sidecar = self.objects("Deployment", "sidecar.yaml")
        self.assertEqual(len(sidecar), 1)
        names = [c["name"] for c in sidecar[0]["spec"]["template"]["spec"]["containers"]]
        self.assertEqual(sorted(names), ["app", "realip-proxy"])

    def test_workloads_run_locked_down(self):
        user = self.dockerfile_user()
        for w in self.workloads():
            pod = w["spec"]["template"]["spec"]
            with self.subTest(workload=w["metadata"]["name"]):
                self.assertIs(pod["automountServiceAccountToken"], False)
                self.assertIs(pod["securityContext"]["runAsNonRoot"], True)
                self.assertEqual(pod["securityContext"]["runAsUser"], user)
                self.assertEqual(pod["securityContext"]["seccompProfile"]["type"],
                                 "RuntimeDefault")
                for c in pod["containers"]:
                    sc = c["securityContext"]
                    self.assertIs(sc["allowPrivilegeEscalation"], False, c["name"])
                    self.assertIs(sc["readOnlyRootFilesystem"], True, c["name"])
                    self.assertIs(sc["runAsNonRoot"], True, c["name"])
                    self.assertEqual(sc["capabilities"]["drop"], ["ALL"], c["name"])
                    self.assertNotIn("add", sc["capabilities"], c["name"])
                    self.assertIn("cpu", c["resources"]["requests"], c["name"])
                    self.assertIn("memory", c["resources"]["requests"], c["name"])
                    self.assertIn("memory", c["resources"]["limits"], c["name"])

    def test_probes_and_ports_match_the_image(self):
        exposed = self.dockerfile_exposed()
        self.assertEqual(exposed, [8080, 9145])
        containers = list(self.proxy_containers())
        self.assertEqual(len(containers), 3)  # Deployment, DaemonSet, sidecar
        for w, c in containers:
            with self.subTest(workload=w["metadata"]["name"]):
                ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                self.assertEqual(ports, {"http": 8080, "metrics": 9145})
                self.assertEqual(c["readinessProbe"]["httpGet"],
                                 {"path": "/ready", "port": "metrics"})
                self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "http"})
                mount = [m for m in c["volumeMounts"] if m["mountPath"] == "/etc/realip-proxy"]
                self.assertEqual(len(mount), 1)
                self.assertIs(mount[0]["readOnly"], True)
                self.assertNotIn("command", c)  # the image's entrypoint reads that directory

    def test_services_keep_the_client_address(self):
        services = self.objects("Service")
        self.assertEqual(len(services), 2)  # ingress and sidecar example
        for s in services:
            with self.subTest(service=s["metadata"]["name"]):
                self.assertEqual(s["spec"]["type"], "LoadBalancer")
                self.assertEqual(s["spec"]["externalTrafficPolicy"], "Local")
                selected = [w for w in self.workloads()
                            if self.selects(s["spec"]["selector"], w)]
                self.assertTrue(selected, "the selector matches no pod template")
                for w in selected:
                    http = [p for c in w["spec"]["template"]["spec"]["containers"]
                            for p in c.get("ports", []) if p["name"] == "http"]
                    self.assertEqual(len(http), 1)
                    self.assertEqual(s["spec"]["ports"][0]["targetPort"], "http")
        service_text = self.read("service.yaml")
        self.assertIn("#   service.beta.kubernetes.io/aws-load-balancer-proxy-protocol: \"*\"",
                      service_text)

    def test_deployment_spreads_and_is_protected(self):
        deployment = self.objects("Deployment", "deployment.yaml")[0]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        terms = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"]
        self.assertEqual(len(terms), 1)
        self.assertEqual(terms[0]["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname")
        self.assertEqual(terms[0]["podAffinityTerm"]["labelSelector"]["matchLabels"], labels)
        pdb = self.objects("PodDisruptionBudget")[0]
        self.assertTrue(self.selects(pdb["spec"]["selector"]["matchLabels"], deployment))
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        self.assertEqual(volumes[0]["configMap"]["name"],
                         self.objects("ConfigMap", "configmap.yaml")[0]["metadata"]["name"])

    def test_daemonset_runs_the_deployments_pod(self):
        deployment = self.objects("Deployment", "deployment.yaml")[0]["spec"]["template"]
        daemonset = self.objects("DaemonSet")[0]["spec"]["template"]
        expected = copy.deepcopy(deployment)
        del expected["spec"]["affinity"]  # one pod per node by construction
        self.assertEqual(daemonset, expected)

    def test_alerts_cover_the_issue(self):
        rules = [r for g in self.objects("PrometheusRule")[0]["spec"]["groups"]
                 for r in g["rules"]]
        exprs = {r["alert"]: r["expr"] for r in rules}
        wanted = {
            "RealipProxyLoadImbalance": r"max by .*realip_http_requests_total.*avg by",
            "RealipProxyNoReadyPodOnNode": r"kube_pod_status_ready",
            "RealipProxyUntrustedForwardedHeadersRising":
                r"rate\(realip_untrusted_forwarded_headers_total",
            "RealipProxyProxyProtocolErrors": r"rate\(realip_proxy_protocol_errors_total",
        }
        for alert, pattern in wanted.items():
            with self.subTest(alert=alert):
                self.assertIn(alert, exprs)
                self.assertRegex(exprs[alert].replace("\n", " "), pattern)

    def test_configmap_configurations_load(self):
        """Each ConfigMap's realip-proxy.conf passes `realip-proxy -t`, with the one upstream
        hostname (a Service name, resolvable only in the cluster) replaced by a loopback
        address."""
        probe = subprocess.run([harness.PROXY_BIN, "-t", "-c", os.devnull],
                               capture_output=True, text=True, timeout=30)
        if "engine is not built yet" in probe.stderr:
            self.skipTest("realip-proxy -t is not implemented yet")
        workdir = tempfile.mkdtemp(prefix="realip-k8s-conf-")
        self.addCleanup(shutil.rmtree, workdir, True)
        configs = [(f, d) for f, d in self.docs
                   if d["kind"] == "ConfigMap" and "realip-proxy.conf" in d.get("data", {})]
        self.assertEqual(len(configs), 2)
        for file, cm in configs:
            with self.subTest(configmap=cm["metadata"]["name"]):
                text = re.sub(r"\bserver app:8080;", "server 127.0.0.1:8080;",
                              cm["data"]["realip-proxy.conf"])
                path = os.path.join(workdir, f"{cm['metadata']['name']}.conf")
                with open(path, "w") as f:
                    f.write(text)
                result = subprocess.run([harness.PROXY_BIN, "-t", "-c", path],
                                        capture_output=True, text=True, timeout=30)
                self.assertEqual(result.returncode, 0, f"{file}: {result.stderr}")
                # The readinessProbe's target: /ready on the metrics port.
                self.assertRegex(text, r"listen 9145;\s*location = /ready \{[^}]*readiness;")

    # --- helpers -------------------------------------------------------------------------------

    @staticmethod
    def selects(selector, workload):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        return all(labels.get(k) == v for k, v in selector.items())

    @staticmethod
    def read(name):
        with open(os.path.join(K8S_DIR, name)) as f:
            return f.read()

    @staticmethod
    def dockerfile_user():
        with open(DOCKERFILE) as f:
            users = re.findall(r"^USER (\d+):(\d+)$", f.read(), re.M)
        assert len(users) == 1, users
        return int(users[0][0])

    @staticmethod
    def dockerfile_exposed():
        with open(DOCKERFILE) as f:
            lines = re.findall(r"^EXPOSE (.+)$", f.read(), re.M)
        return sorted(int(p) for line in lines for p in line.split())


if __name__ == "__main__":
    unittest.main()
