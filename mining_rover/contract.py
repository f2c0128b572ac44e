"""The simulator contract (config/sim_contract.yaml) as a typed, validated object.

Pure Python: used by the embedded simulator, the drivers' sim backend, the Gazebo
bridge configuration test and the nodes alike, so every topic name is written once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from mining_rover.paths import config_path

JOINT_KINDS = ('wheel', 'arm', 'drum')
COMMAND_KINDS = ('velocity', 'position')


@dataclass(frozen=True)
class JointSpec:
    """One commanded joint of the sim contract: kind (wheel/arm/drum), command type and its topic."""
    name: str
    kind: str      # wheel | arm | drum
    command: str   # velocity (rad/s) | position (rad)
    topic: str     # std_msgs/Float64 command topic


@dataclass(frozen=True)
class CameraSpec:
    """Topics and TF frame of one camera of the stereo pair."""
    image: str
    info: str
    frame: str


@dataclass(frozen=True)
class Contract:
    """The simulator/stack interface (config/sim_contract.yaml): model, clock, frames, cameras, joints."""
    model_name: str
    clock: str
    frames: dict
    left: CameraSpec
    right: CameraSpec
    camera_width: int
    camera_height: int
    camera_hfov_rad: float
    camera_rate_hz: float
    imu_topic: str
    imu_rate_hz: float
    joint_states_topic: str
    joint_states_rate_hz: float
    ground_truth_topic: str
    ground_truth_rate_hz: float
    regolith_topic: str
    regolith_keys: tuple
    motors_topic: str
    holddown_topic: str
    holddown_timeout_s: float
    reset_service: str
    pause_service: str
    joints: tuple  # of JointSpec, in file order

    def with_frame_prefix(self, prefix: str) -> 'Contract':
        """The contract with ``prefix`` ('r1/') in front of every frame id, as
        robot_state_publisher's ``frame_prefix`` does, so rovers can share one /tf."""
        return replace(self, frames={k: prefix + v for k, v in self.frames.items()},
                       left=replace(self.left, frame=prefix + self.left.frame),
                       right=replace(self.right, frame=prefix + self.right.frame))

    def joint(self, name: str) -> JointSpec:
        for j in self.joints:
            if j.name == name:
                return j
        raise KeyError(f'no joint {name!r} in the sim contract; joints: {self.joint_names}')

    @property
    def joint_names(self) -> list:
        return [j.name for j in self.joints]

    def joints_of(self, kind: str) -> list:
        return [j for j in self.joints if j.kind == kind]


def relative(name: str) -> str:
    """Topic/service name without its leading '/', so that a node's namespace applies.

    With no namespace, 'stereo/points' resolves to '/stereo/points', exactly the name in
    the contract file; under `namespace:=rover1` it becomes '/rover1/stereo/points'.
    """
    return name.lstrip('/')


def load_contract(path: str | Path | None = None) -> Contract:
    """Load and validate the contract; ValueError names the bad key and the file.

    Topic and service names are returned relative (see ``relative``)."""
    path = Path(path) if path else config_path('sim_contract.yaml')
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f'{path}: cannot read the sim contract: {exc}') from exc

    def get(*keys):
        node = raw
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                raise ValueError(f"{path}: missing key '{'.'.join(keys)}'")
            node = node[k]
        if isinstance(node, str) and node.startswith('/'):
            return relative(node)
        return node

    joints = []
    prefix = get('command_prefix')
    for name, spec in get('joints').items():
        kind, command = spec.get('kind'), spec.get('command')
        if kind not in JOINT_KINDS:
            raise ValueError(f'{path}: joints.{name}.kind must be one of {JOINT_KINDS}, got {kind!r}')
        if command not in COMMAND_KINDS:
            raise ValueError(f'{path}: joints.{name}.command must be one of {COMMAND_KINDS}, got {command!r}')
        joints.append(JointSpec(name, kind, command, relative(f'{prefix}{name}/cmd')))
    cams = get('cameras')
    return Contract(
        model_name=get('model_name'),
        clock='/' + get('clock'),  # /clock is global: use_sim_time listens there
        frames=dict(get('frames')),
        left=CameraSpec(**{k: relative(v) if k != 'frame' else v
                           for k, v in get('cameras', 'left').items()}),
        right=CameraSpec(**{k: relative(v) if k != 'frame' else v
                            for k, v in get('cameras', 'right').items()}),
        camera_width=int(cams['width']),
        camera_height=int(cams['height']),
        camera_hfov_rad=float(cams['horizontal_fov_rad']),
        camera_rate_hz=float(cams['rate_hz']),
        imu_topic=get('imu', 'topic'),
        imu_rate_hz=float(get('imu', 'rate_hz')),
        joint_states_topic=get('joint_states', 'topic'),
        joint_states_rate_hz=float(get('joint_states', 'rate_hz')),
        ground_truth_topic=get('ground_truth', 'topic'),
        ground_truth_rate_hz=float(get('ground_truth', 'rate_hz')),
        regolith_topic=get('telemetry', 'regolith'),
        regolith_keys=tuple(get('telemetry', 'regolith_keys')),
        motors_topic=get('telemetry', 'motors'),
        holddown_topic=get('holddown', 'topic'),
        holddown_timeout_s=float(get('holddown', 'timeout_s')),
        reset_service=get('services', 'reset'),
        pause_service=get('services', 'pause'),
        joints=tuple(joints),
    )
