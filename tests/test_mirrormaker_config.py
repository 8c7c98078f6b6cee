"""MirrorMaker 2 configuration from a topology: which pairs, which topics, which settings.

MM2 matches topic filters with Java's ``Pattern.matcher(topic).matches()``, i.e. the whole name;
``re.fullmatch`` is the same for these regexes (literals, classes, groups, ``?``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from dc2dc.mirrormaker.cli import mirrormaker
from dc2dc.mirrormaker.config import (
    IDENTITY_POLICY,
    MirrorSettings,
    mirror_dcs,
    mm2_properties,
    render,
    replication_pairs,
)
from dc2dc.pipeline.topology import Topology, TopologyError
from dc2dc.topics.errors import ConfigError
from dc2dc.topics.names import (
    control_topic,
    feedback_probe_topic,
    feedback_topic,
    feedback_topics_regex,
    forward_topics_regex,
    probe_topic,
    shard_topic,
)

MM2_INTERNAL = ["mm2-offsets.B.internal", "mm2-configs.A.internal", "mm2-status.A.internal", "heartbeats",
                "A.checkpoints.internal", "mm2-offset-syncs.B.internal", "__consumer_offsets",
                "__transaction_state"]


def topology(*flows: tuple[str, str], dcs: Sequence[str] = "ABC") -> Topology:
    return Topology.from_dict({
        "dc": {dc: {"kafka": f"127.0.0.1:{9000 + i}", "arangodb": f"http://127.0.0.1:{8500 + i}"}
               for i, dc in enumerate(dcs)},
        "replication": [{"from": s, "to": t} for s, t in flows],
    })


def enabled_pairs(props: dict[str, str]) -> dict[str, str]:
    return {k.removesuffix(".enabled"): props[k.removesuffix(".enabled") + ".topics"]
            for k, v in props.items() if k.endswith(".enabled") and "->" in k and v == "true"}


def matches(regex: str, topic: str) -> bool:
    return re.fullmatch(regex, topic) is not None


# -- the regexes --------------------------------------------------------------------------------


def test_forward_regex_takes_control_shards_and_probe_of_its_source_only() -> None:
    forward = forward_topics_regex("A")
    for topic in (control_topic("A"), shard_topic("A", "s1234"), shard_topic("A", "s-9_x"), probe_topic("A")):
        assert matches(forward, topic), topic
    for topic in (feedback_topic("A", "B"), feedback_probe_topic("A", "B"), control_topic("B"),
                  shard_topic("B", "s1"), shard_topic("AA", "s1"), "dc2dc.A.shard.", "dc2dc.A.shard.s1.x",
                  "dc2dc.A.controlx", "xdc2dc.A.control", "dc2dc.A.control.B", *MM2_INTERNAL):
        assert not matches(forward, topic), topic


def test_feedback_regex_takes_the_feedback_topic_of_that_pair_only() -> None:
    backward = feedback_topics_regex("A", "B")
    assert matches(backward, feedback_topic("A", "B"))
    assert matches(backward, feedback_probe_topic("A", "B"))
    for topic in (control_topic("A"), shard_topic("A", "s1"), probe_topic("A"), feedback_topic("A", "C"),
                  feedback_topic("B", "A"), "dc2dc.A.feedback.BB", "dc2dc.AxfeedbackxB", *MM2_INTERNAL):
        assert not matches(backward, topic), topic


def test_dc_ids_with_regex_characters_are_escaped() -> None:
    # '-' is an ordinary character in DC ids; '.' never reaches a regex (ids refuse it).
    assert matches(forward_topics_regex("dc-1"), control_topic("dc-1"))
    with pytest.raises(ConfigError):
        forward_topics_regex("a.b")


# -- pairs per topology ------------------------------------------------------------------------


def test_one_flow_mirrors_forward_and_its_feedback_back_and_disables_the_rest() -> None:
    props = mm2_properties(topology(("A", "B"), dcs="AB"))
    assert props["clusters"] == "A, B"
    assert enabled_pairs(props) == {"A->B": forward_topics_regex("A"), "B->A": feedback_topics_regex("A", "B")}
    assert props["replication.policy.class"] == IDENTITY_POLICY
    assert props["topics.exclude"] == ""  # only our exact regexes decide


def test_each_dc_runs_the_pairs_into_it() -> None:
    topo = topology(("A", "B"), dcs="AB")
    into_b = mm2_properties(topo, "B")
    into_a = mm2_properties(topo, "A")
    assert enabled_pairs(into_b) == {"A->B": forward_topics_regex("A")}
    assert into_b["B->A.enabled"] == "false"
    assert enabled_pairs(into_a) == {"B->A": feedback_topics_regex("A", "B")}
    assert into_a["A->B.enabled"] == "false"
    assert mirror_dcs(topo) == ["A", "B"]


def test_a_chain_mirrors_each_hop_with_its_own_source_topics() -> None:
    topo = topology(("A", "B"), ("B", "C"))
    assert {(p.key, p.topics) for p in replication_pairs(topo)} == {
        ("A->B", forward_topics_regex("A")), ("B->A", feedback_topics_regex("A", "B")),
        ("B->C", forward_topics_regex("B")), ("C->B", feedback_topics_regex("B", "C")),
    }
    into_b = mm2_properties(topo, "B")
    assert into_b["clusters"] == "A, B, C"
    assert enabled_pairs(into_b) == {"A->B": forward_topics_regex("A"), "C->B": feedback_topics_regex("B", "C")}
    assert {k for k, v in into_b.items() if k.endswith(".enabled") and "->" in k and v == "false"} == {
        "A->C.enabled", "B->A.enabled", "B->C.enabled", "C->A.enabled"}
    assert enabled_pairs(mm2_properties(topo, "C")) == {"B->C": forward_topics_regex("B")}
    assert enabled_pairs(mm2_properties(topo, "A")) == {"B->A": feedback_topics_regex("A", "B")}
    # A's data never travels B->C: the hop carries B's own topics only.
    assert not matches(forward_topics_regex("B"), shard_topic("A", "s1"))


def test_a_fan_out_sends_the_same_topics_to_every_destination_and_takes_both_feedbacks() -> None:
    topo = topology(("A", "B"), ("A", "C"))
    assert enabled_pairs(mm2_properties(topo, "B")) == {"A->B": forward_topics_regex("A")}
    assert enabled_pairs(mm2_properties(topo, "C")) == {"A->C": forward_topics_regex("A")}
    into_a = mm2_properties(topo, "A")
    assert enabled_pairs(into_a) == {"B->A": feedback_topics_regex("A", "B"), "C->A": feedback_topics_regex("A", "C")}
    assert into_a["B->C.enabled"] == into_a["C->B.enabled"] == "false"


def test_unknown_or_idle_dcs_are_clear_errors() -> None:
    topo = topology(("A", "B"))
    with pytest.raises(TopologyError, match="'Z' is not in the topology"):
        mm2_properties(topo, "Z")
    with pytest.raises(TopologyError, match="nothing to mirror into DC 'C'"):
        mm2_properties(topo, "C")
    with pytest.raises(TopologyError, match="nothing to mirror"):
        mm2_properties(topology(dcs="AB"))


# -- settings ------------------------------------------------------------------------------------


def test_single_broker_clusters_get_replication_factor_one_everywhere() -> None:
    props = mm2_properties(topology(("A", "B"), dcs="AB"))
    factors = {k: v for k, v in props.items() if k.endswith("replication.factor")}
    assert len(factors) == 7 and set(factors.values()) == {"1"}
    three = mm2_properties(topology(("A", "B"), dcs="AB"), settings=MirrorSettings(replication_factor=3))
    assert {v for k, v in three.items() if k.endswith("replication.factor")} == {"3"}


def test_consumers_skip_aborted_transactions_and_heartbeats_do_not_wake_disabled_pairs() -> None:
    props = mm2_properties(topology(("A", "B"), dcs="AB"))
    assert props["A.consumer.isolation.level"] == props["B.consumer.isolation.level"] == "read_committed"
    assert props["emit.heartbeats.enabled"] == "false"
    assert props["sync.topic.configs.enabled"] == "true"
    assert props["sync.group.offsets.enabled"] == "false"
    assert props["offset-syncs.topic.location"] == "target"


def test_exactly_once_is_enabled_on_every_target_worker_with_its_rest_listener() -> None:
    topo = topology(("A", "B"), ("A", "C"))
    props = mm2_properties(topo, "A", MirrorSettings(rest_listener="http://127.0.0.1:18083"))
    assert props["dedicated.mode.enable.internal.rest"] == "true"
    assert props["listeners"] == "http://127.0.0.1:18083"
    assert {k for k in props if k.endswith("exactly.once.source.support")} == {"A.exactly.once.source.support"}
    whole = mm2_properties(topo)
    assert {k for k in whole if k.endswith("exactly.once.source.support")} == {
        f"{dc}.exactly.once.source.support" for dc in "ABC"}
    plain = mm2_properties(topo, "A", MirrorSettings(exactly_once=False))
    assert not any("exactly.once" in k or k == "listeners" for k in plain)


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="replication_factor"):
        MirrorSettings(replication_factor=0)
    with pytest.raises(ConfigError, match="producer_linger_ms"):
        MirrorSettings(producer_linger_ms=-1)


def test_rendered_properties_keep_regex_backslashes_through_java_unescaping() -> None:
    text = render({"A->B.topics": forward_topics_regex("A")}, header="two\nlines")
    lines = text.splitlines()
    assert lines[:2] == ["# two", "# lines"]
    key, _, value = lines[2].partition(" = ")
    assert key == "A->B.topics"
    assert value.replace("\\\\", "\\") == forward_topics_regex("A")


def test_a_dc_whose_name_mm2_would_exclude_by_default_still_gets_its_feedback() -> None:
    topo = topology(("A", "x-internal"), dcs=["A", "x-internal"])
    topic = feedback_topic("A", "x-internal")
    assert re.fullmatch(r".*[\-\.]internal", topic)  # MM2's default topics.exclude would drop it
    props = mm2_properties(topo, "A")
    assert props["topics.exclude"] == ""
    assert matches(props["x-internal->A.topics"], topic)


# -- the command -----------------------------------------------------------------------------


def write_topology(tmp_path: Path) -> Path:
    path = tmp_path / "topology.toml"
    path.write_text('[dc.A]\nkafka = "127.0.0.1:19092"\narangodb = "http://127.0.0.1:8529"\n'
                    '[dc.B]\nkafka = "127.0.0.1:29092"\narangodb = "http://127.0.0.1:8539"\n'
                    '[[replication]]\nfrom = "A"\nto = "B"\n')
    return path


def test_config_command_writes_the_properties_of_one_dc(tmp_path: Path) -> None:
    out = tmp_path / "mm2.properties"
    result = CliRunner().invoke(mirrormaker, ["config", str(write_topology(tmp_path)), "--dc", "B", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "--clusters B" in text
    assert "A->B.enabled = true" in text and "B->A.enabled = false" in text
    assert "A.bootstrap.servers = 127.0.0.1:19092" in text


def test_config_command_reports_an_unknown_dc_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(mirrormaker, ["config", str(write_topology(tmp_path)), "--dc", "Q"])
    assert result.exit_code == 1
    assert "Error: DC 'Q' is not in the topology" in result.output
