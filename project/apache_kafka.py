"""A local Apache Kafka, the broker Atlas operators run, from Maven Central's jars.

The jars are fetched once by Maven from ``infra/apache-kafka/pom.xml`` into the
git-ignored ``.cache/apache-kafka/<version>/lib`` (no release archive, no Docker)
and every node runs as ``java … kafka.Kafka`` in KRaft mode, broker and controller
in one process, on ports of 127.0.0.1. One node or three (a quorum of three
controllers, replication factor 3, ``min.insync.replicas=2``).

The settings are an operator's, not a demo's: topics are never created implicitly
(``auto.create.topics.enable=false``; the project creates its topics, as Atlas
pre-creates them), a new topic gets 3 partitions, and the data is on disk under the
given directory, so a node restarted on it keeps its topics, records and committed
offsets. Two settings are smaller than a production broker's because everything
here shares one 2-core machine: the group coordinator's topic has 10 partitions,
not 50, and a new group's first rebalance is not held back 3 s.

Used by ``runstack --kafka``, the tests (``ATLAS_TEST_BROKER=kafka``) and the
benchmark alike, through ``project.embedded.broker``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POM = ROOT / "infra" / "apache-kafka" / "pom.xml"
LOG_CONFIG = ROOT / "infra" / "apache-kafka" / "log4j2.properties"
CACHE = ROOT / ".cache" / "apache-kafka"
# What a new topic gets when the project creates it (KAFKA_TOPIC_PARTITIONS) and what
# the broker gives one created without a count.
PARTITIONS = 3
# A JVM of its own per node; bounded so that three fit beside the stack on 2 cores.
JVM_OPTIONS = ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


class KafkaSetupError(RuntimeError):
    """Apache Kafka cannot be fetched or started here (no Maven, no Java, a failed format)."""


def version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not match:
        raise KafkaSetupError(f"{POM} names no kafka.version")
    return match.group(1).strip()


def lib_dir() -> Path:
    return CACHE / version() / "lib"


def install(*, say=None) -> Path:
    """The jars' folder, fetched by Maven the first time (and when the pom changes).

    A file lock keeps two processes (the test run and a benchmark, say) from
    fetching into the same folder at once; the folder appears whole or not at all.
    """
    lib = lib_dir()
    stamp = lib.parent / "installed"
    wanted = hashlib.sha256(POM.read_bytes()).hexdigest()
    if _stamped(stamp, wanted) and lib.is_dir():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    with open(lib.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamped(stamp, wanted) and lib.is_dir():
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaSetupError("Maven (mvn) is needed to fetch Apache Kafka's jars")
        (say or _stderr)(f"fetching Apache Kafka {version()} from Maven Central (once) into {lib}")
        partial = lib.parent / "lib.partial"
        shutil.rmtree(partial, ignore_errors=True)
        fetch = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies"]
        _run(
            [*fetch, f"-DoutputDirectory={partial}", "-DincludeScope=runtime"],
            failure="mvn could not fetch Apache Kafka's jars",
        )
        shutil.rmtree(lib, ignore_errors=True)
        partial.rename(lib)
        stamp.write_text(wanted)
    return lib


def _run(command: list[str], *, failure: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-2000:]
        raise KafkaSetupError(f"{failure}:\n{tail}")


def _stamped(stamp: Path, wanted: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == wanted


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaSetupError("Java 17 or newer is needed to run Apache Kafka (java on PATH)")
    return found


def new_cluster_id() -> str:
    """A random id in Kafka's form: 16 bytes, URL-safe base64 without padding, and
    never starting with "-" (the storage tool would read it as an option)."""
    while True:
        made = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not made.startswith("-"):
            return made


@dataclass(frozen=True)
class Node:
    """One KRaft node: broker and controller in one JVM."""

    node_id: int
    port: int
    controller_port: int
    directory: Path
    voters: str
    replication: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def config_path(self) -> Path:
        return self.directory / "server.properties"

    def properties(self) -> dict[str, str]:
        min_insync = str(min(self.replication, 2))
        return {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "false",
            "num.partitions": str(PARTITIONS),
            "default.replication.factor": str(self.replication),
            "min.insync.replicas": min_insync,
            "offsets.topic.replication.factor": str(self.replication),
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": str(self.replication),
            "transaction.state.log.min.isr": min_insync,
            "share.coordinator.state.topic.replication.factor": str(self.replication),
            "share.coordinator.state.topic.min.isr": min_insync,
            "group.initial.rebalance.delay.ms": "0",
            # A killed node's replicas catch up on restart; nothing else to tune.
            "unclean.leader.election.enable": "false",
        }

    def prepare(self, cluster_id: str) -> None:
        """Write the node's configuration and format its storage unless it already is."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}={value}" for key, value in self.properties().items()]
        self.config_path.write_text("\n".join(lines) + "\n")
        if (self.data_dir / "meta.properties").exists():
            return
        tool = [java(), *_log_options(), "-cp", str(install() / "*"), STORAGE_TOOL, "format"]
        config = ["--config", str(self.config_path), "--ignore-formatted"]
        _run(
            [*tool, "--cluster-id", cluster_id, *config],
            failure=f"formatting {self.data_dir} failed",
        )

    def command(self) -> list[str]:
        """The JVM's command line (``prepare`` first)."""
        return [
            java(),
            *JVM_OPTIONS,
            "-Djava.awt.headless=true",
            *_log_options(),
            "-cp",
            str(install() / "*"),
            MAIN,
            str(self.config_path),
        ]


def _log_options() -> list[str]:
    return [f"-Dlog4j2.configurationFile={LOG_CONFIG}"]


def nodes(directory: Path, ports: list[int], controller_ports: list[int]) -> list[Node]:
    """The nodes of a cluster whose data lives under ``directory`` (one folder a node).

    The cluster id is made once and kept in the directory, so a later start on the
    same directory joins the data it formatted.
    """
    if len(ports) != len(controller_ports) or not ports:
        raise ValueError("one broker port and one controller port per node")
    directory.mkdir(parents=True, exist_ok=True)
    voters = ",".join(f"{i}@127.0.0.1:{p}" for i, p in enumerate(controller_ports, start=1))
    return [
        Node(i, port, controller, directory / f"node-{i}", voters, len(ports))
        for i, (port, controller) in enumerate(zip(ports, controller_ports, strict=True), 1)
    ]


def cluster_id(directory: Path) -> str:
    path = directory / "cluster-id"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(new_cluster_id())
    return path.read_text().strip()


class LocalKafka:
    """Starts, kills and restarts the JVMs of a local cluster; each in its own process group."""

    def __init__(
        self,
        directory: Path,
        ports: list[int],
        controller_ports: list[int],
        *,
        log_dir: Path | None = None,
    ) -> None:
        self.directory = directory
        self.nodes = nodes(directory, ports, controller_ports)
        self.log_dir = log_dir or directory
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes.values()]

    def start(self, *, timeout: float = 90.0) -> None:
        identity = cluster_id(self.directory)
        for node in self.nodes:
            node.prepare(identity)
        for node in self.nodes:
            self._launch(node)
        wait_ready(self.bootstrap, brokers=len(self.nodes), timeout=timeout)

    def start_node(self, index: int, *, timeout: float = 90.0) -> None:
        """Start node ``index`` (0-based) again, on its data, and wait until it is back."""
        node = self.nodes[index]
        node.prepare(cluster_id(self.directory))
        self._launch(node)
        # Asked of the node itself: the others list a killed node for a while yet.
        wait_ready(node.bootstrap, brokers=len(self.nodes), timeout=timeout)

    def _launch(self, node: Node) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"kafka-{node.node_id}.log", "ab") as log:
            self.processes[node.node_id] = subprocess.Popen(
                node.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill_node(self, index: int) -> None:
        """SIGKILL: a crash, not a shutdown."""
        self._signal(self.nodes[index].node_id, signal.SIGKILL, wait=10)

    def kill(self) -> None:
        for node in self.nodes:
            self._signal(node.node_id, signal.SIGKILL, wait=10)

    def alive(self, index: int) -> bool:
        return self._alive(self.nodes[index].node_id)

    def _alive(self, node_id: int) -> bool:
        process = self.processes.get(node_id)
        return process is not None and process.poll() is None

    def _signal(self, node_id: int, signum: int, *, wait: float) -> None:
        if not self._alive(node_id):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.processes[node_id].pid, signum)
        self._wait_or_kill(node_id, wait)

    def _wait_or_kill(self, node_id: int, grace: float) -> None:
        process = self.processes[node_id]
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_ready(bootstrap: str, *, brokers: int = 1, timeout: float = 90.0) -> None:
    """Until the cluster's metadata lists ``brokers`` brokers (a listening port alone
    is not enough: a node accepts connections before it has joined the quorum) and a
    group coordinator answers."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap.split(","),
                client_id="atlas-kafka-ready",
                request_timeout_ms=5000,
                bootstrap_timeout_ms=3000,
            )
        except KafkaError as exc:
            last = exc
            time.sleep(0.25)
            continue
        try:
            seen = len(admin.describe_cluster().get("brokers", []))
            if seen >= brokers:
                # and a group coordinator answers: the first lookup creates the
                # offsets topic, and kafka-python's consumers were seen to wait on a
                # coordinator for good when their first lookup met that moment
                admin.list_group_offsets("atlas-kafka-ready")
                return
            last = f"{seen} of {brokers} brokers registered"
        except KafkaError as exc:
            last = exc
        finally:
            admin.close()
        time.sleep(0.25)
    raise TimeoutError(f"Apache Kafka at {bootstrap} not ready after {timeout:.0f} s ({last})")


def main(argv: list[str]) -> int:
    """``python -m project.apache_kafka fetch``: fetch the jars now (bin/test --kafka)."""
    if argv[1:] != ["fetch"]:
        print("usage: python -m project.apache_kafka fetch", file=sys.stderr)
        return 2
    try:
        install()
    except KafkaSetupError as exc:
        print(f"apache_kafka: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
