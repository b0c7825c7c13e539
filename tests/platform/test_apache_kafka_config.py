"""The local Apache Kafka's configuration: an operator's settings, one node or three."""

from __future__ import annotations

from project import apache_kafka


def test_one_node_is_broker_and_controller_with_an_operators_settings(tmp_path):
    (node,) = apache_kafka.nodes(tmp_path, [19092], [19093])
    props = node.properties()
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "3"
    assert props["log.dirs"] == str(tmp_path / "node-1" / "data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"
    assert node.bootstrap == "127.0.0.1:19092"


def test_three_nodes_form_one_quorum_and_replicate_three_times(tmp_path):
    nodes = apache_kafka.nodes(tmp_path, [1, 2, 3], [11, 12, 13])
    voters = "1@127.0.0.1:11,2@127.0.0.1:12,3@127.0.0.1:13"
    assert [n.properties()["controller.quorum.voters"] for n in nodes] == [voters] * 3
    assert [n.properties()["node.id"] for n in nodes] == ["1", "2", "3"]
    for node in nodes:
        props = node.properties()
        assert props["default.replication.factor"] == "3"
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["transaction.state.log.min.isr"] == "2"
    assert len({n.data_dir for n in nodes}) == 3


def test_the_cluster_id_is_made_once_per_data_directory(tmp_path):
    first = apache_kafka.cluster_id(tmp_path)
    assert apache_kafka.cluster_id(tmp_path) == first
    assert apache_kafka.cluster_id(tmp_path / "other") != first


def test_the_version_is_the_poms():
    assert apache_kafka.version().startswith("4.")
    assert apache_kafka.lib_dir().parts[-2:] == (apache_kafka.version(), "lib")


def test_a_cluster_id_never_starts_like_an_option():
    ids = {apache_kafka.new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert not [made for made in ids if made.startswith("-")]
    assert {len(made) for made in ids} == {22}
