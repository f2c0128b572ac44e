"""ODrive CANSimple: frame ids, payload layouts and error names (no I/O).

Source: ODrive firmware 0.6 CAN protocol (docs.odriverobotics.com, "CAN Protocol", and
the odrive-cansimple-0.6.10 DBC it ships). Standard 11-bit ids,
``arbitration_id = node_id << 5 | cmd_id``; every multi-byte value little-endian,
floats IEEE 754 single. "Get_*" messages are sent by the axis either cyclically or in
answer to a remote (RTR) frame with the same id.

Layouts (byte offsets):

=====  =======================  ===============================================
cmd    name                     payload
=====  =======================  ===============================================
0x01   Heartbeat                axis_error u32 @0, axis_state u8 @4,
                                procedure_result u8 @5, trajectory_done bit0 @6
0x02   Estop                    (none)
0x03   Get_Error                active_errors u32 @0, disarm_reason u32 @4
0x06   Address (Set node id)    node_id u8 @0, serial_number u48 @1
0x07   Set_Axis_State           axis_requested_state u32 @0
0x09   Get_Encoder_Estimates    pos_estimate f32 @0 (rev), vel_estimate f32 @4 (rev/s)
0x0B   Set_Controller_Mode      control_mode u32 @0, input_mode u32 @4
0x0C   Set_Input_Pos            input_pos f32 @0 (rev), vel_ff i16 @4 (0.001 rev/s),
                                torque_ff i16 @6 (0.001 N m)
0x0D   Set_Input_Vel            input_vel f32 @0 (rev/s), torque_ff f32 @4 (N m)
0x0F   Set_Limits               velocity_limit f32 @0 (rev/s), current_limit f32 @4 (A)
0x14   Get_Iq                   iq_setpoint f32 @0, iq_measured f32 @4 (A)
0x15   Get_Temperature          fet_temperature f32 @0, motor_temperature f32 @4 (C)
0x16   Reboot                   action u8 @0 (0 reboot, 1 save, 2 erase, 3 dfu)
0x17   Get_Bus_Voltage_Current  bus_voltage f32 @0 (V), bus_current f32 @4 (A)
0x18   Clear_Errors             identify u8 @0
=====  =======================  ===============================================
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

MAX_NODE_ID = 0x3F
CMD_MASK = 0x1F


class Cmd(IntEnum):
    GET_VERSION = 0x00
    HEARTBEAT = 0x01
    ESTOP = 0x02
    GET_ERROR = 0x03
    ADDRESS = 0x06
    SET_AXIS_STATE = 0x07
    GET_ENCODER_ESTIMATES = 0x09
    SET_CONTROLLER_MODE = 0x0B
    SET_INPUT_POS = 0x0C
    SET_INPUT_VEL = 0x0D
    SET_INPUT_TORQUE = 0x0E
    SET_LIMITS = 0x0F
    GET_IQ = 0x14
    GET_TEMPERATURE = 0x15
    REBOOT = 0x16
    GET_BUS_VOLTAGE_CURRENT = 0x17
    CLEAR_ERRORS = 0x18


# Names used in the brief / older firmware for the same ids.
SET_AXIS_NODE_ID = Cmd.ADDRESS
GET_MOTOR_ERROR = Cmd.GET_ERROR

#: Data length of each message as the firmware sends or expects it.
DLC = {
    Cmd.GET_VERSION: 8, Cmd.HEARTBEAT: 8, Cmd.ESTOP: 0, Cmd.GET_ERROR: 8, Cmd.ADDRESS: 8,
    Cmd.SET_AXIS_STATE: 4, Cmd.GET_ENCODER_ESTIMATES: 8, Cmd.SET_CONTROLLER_MODE: 8,
    Cmd.SET_INPUT_POS: 8, Cmd.SET_INPUT_VEL: 8, Cmd.SET_INPUT_TORQUE: 4, Cmd.SET_LIMITS: 8,
    Cmd.GET_IQ: 8, Cmd.GET_TEMPERATURE: 8, Cmd.REBOOT: 1, Cmd.GET_BUS_VOLTAGE_CURRENT: 8,
    Cmd.CLEAR_ERRORS: 1,
}

#: Messages an axis sends to the host (what the host must decode).
AXIS_TO_HOST = (Cmd.HEARTBEAT, Cmd.GET_ERROR, Cmd.GET_ENCODER_ESTIMATES, Cmd.GET_IQ,
                Cmd.GET_TEMPERATURE, Cmd.GET_BUS_VOLTAGE_CURRENT, Cmd.GET_VERSION, Cmd.ADDRESS)


class AxisState(IntEnum):
    UNDEFINED = 0
    IDLE = 1
    STARTUP_SEQUENCE = 2
    FULL_CALIBRATION_SEQUENCE = 3
    MOTOR_CALIBRATION = 4
    SENSORLESS_CONTROL = 5
    ENCODER_INDEX_SEARCH = 6
    ENCODER_OFFSET_CALIBRATION = 7
    CLOSED_LOOP_CONTROL = 8
    LOCKIN_SPIN = 9
    ENCODER_DIR_FIND = 10
    HOMING = 11
    ENCODER_HALL_POLARITY_CALIBRATION = 12
    ENCODER_HALL_PHASE_CALIBRATION = 13
    ANTICOGGING_CALIBRATION = 14


class ControlMode(IntEnum):
    VOLTAGE_CONTROL = 0
    TORQUE_CONTROL = 1
    VELOCITY_CONTROL = 2
    POSITION_CONTROL = 3


class InputMode(IntEnum):
    INACTIVE = 0
    PASSTHROUGH = 1
    VEL_RAMP = 2
    POS_FILTER = 3
    MIX_CHANNELS = 4
    TRAP_TRAJ = 5
    TORQUE_RAMP = 6
    MIRROR = 7
    TUNING = 8


#: ODrive 0.6 ODriveError bits (axis_error in the heartbeat, active_errors/disarm_reason).
AXIS_ERRORS = {
    0x00000001: 'INITIALIZING',
    0x00000002: 'SYSTEM_LEVEL',
    0x00000004: 'TIMING_ERROR',
    0x00000008: 'MISSING_ESTIMATE',
    0x00000010: 'BAD_CONFIG',
    0x00000020: 'DRV_FAULT',
    0x00000040: 'MISSING_INPUT',
    0x00000100: 'DC_BUS_OVER_VOLTAGE',
    0x00000200: 'DC_BUS_UNDER_VOLTAGE',
    0x00000400: 'DC_BUS_OVER_CURRENT',
    0x00000800: 'DC_BUS_OVER_REGEN_CURRENT',
    0x00001000: 'CURRENT_LIMIT_VIOLATION',
    0x00002000: 'MOTOR_OVER_TEMP',
    0x00004000: 'INVERTER_OVER_TEMP',
    0x00008000: 'VELOCITY_LIMIT_VIOLATION',
    0x00010000: 'POSITION_LIMIT_VIOLATION',
    0x01000000: 'WATCHDOG_TIMER_EXPIRED',
    0x02000000: 'ESTOP_REQUESTED',
    0x04000000: 'SPINOUT_DETECTED',
    0x08000000: 'BRAKE_RESISTOR_DISARMED',
    0x10000000: 'THERMISTOR_DISCONNECTED',
    0x40000000: 'CALIBRATION_ERROR',
}

PROCEDURE_RESULTS = {
    0: 'SUCCESS', 1: 'BUSY', 2: 'CANCELLED', 3: 'DISARMED', 4: 'NO_RESPONSE',
    5: 'POLE_PAIR_CPR_MISMATCH', 6: 'PHASE_RESISTANCE_OUT_OF_RANGE',
    7: 'PHASE_INDUCTANCE_OUT_OF_RANGE', 8: 'UNBALANCED_PHASES', 9: 'INVALID_MOTOR_TYPE',
    10: 'ILLEGAL_HALL_STATE', 11: 'TIMEOUT', 12: 'HOMING_WITHOUT_ENDSTOP', 13: 'INVALID_STATE',
    14: 'NOT_CALIBRATED', 15: 'NOT_CONVERGING',
}

#: SocketCAN error-frame classes (linux/can/error.h), carried in the error frame's id.
CAN_ERR_TX_TIMEOUT = 0x001
CAN_ERR_LOSTARB = 0x002
CAN_ERR_CRTL = 0x004
CAN_ERR_PROT = 0x008
CAN_ERR_TRX = 0x010
CAN_ERR_ACK = 0x020
CAN_ERR_BUSOFF = 0x040
CAN_ERR_BUSERROR = 0x080
CAN_ERR_RESTARTED = 0x100


def decode_errors(bits: int) -> tuple:
    """Names of the set error bits, unknown bits as 'UNKNOWN_0x...'."""
    names = []
    remaining = bits
    for bit, name in AXIS_ERRORS.items():
        if bits & bit:
            names.append(name)
            remaining &= ~bit
    b = 1
    while remaining:
        if remaining & b:
            names.append(f'UNKNOWN_0x{b:08X}')
            remaining &= ~b
        b <<= 1
    return tuple(names)


def arbitration_id(node_id: int, cmd: int) -> int:
    if not 0 <= node_id <= MAX_NODE_ID:
        raise ValueError(f'node_id must be 0..{MAX_NODE_ID}, got {node_id}')
    if not 0 <= cmd <= CMD_MASK:
        raise ValueError(f'cmd_id must be 0..{CMD_MASK}, got {cmd}')
    return (node_id << 5) | cmd


def split_id(arb_id: int) -> tuple:
    """(node_id, cmd_id) of an 11-bit CANSimple id."""
    return (arb_id >> 5) & MAX_NODE_ID, arb_id & CMD_MASK


# -- host -> axis ---------------------------------------------------------------------
def encode_set_axis_state(state: int) -> bytes:
    return struct.pack('<I', int(state))


def encode_set_controller_mode(control_mode: int, input_mode: int) -> bytes:
    return struct.pack('<II', int(control_mode), int(input_mode))


def encode_set_input_vel(vel_rev_s: float, torque_ff_nm: float = 0.0) -> bytes:
    return struct.pack('<ff', vel_rev_s, torque_ff_nm)


def encode_set_input_pos(pos_rev: float, vel_ff_rev_s: float = 0.0, torque_ff_nm: float = 0.0) -> bytes:
    def i16(x):
        return max(-32768, min(32767, int(round(x * 1000.0))))
    return struct.pack('<fhh', pos_rev, i16(vel_ff_rev_s), i16(torque_ff_nm))


def encode_set_limits(velocity_limit_rev_s: float, current_limit_a: float) -> bytes:
    return struct.pack('<ff', velocity_limit_rev_s, current_limit_a)


def encode_address(node_id: int, serial_number: int = 0) -> bytes:
    return struct.pack('<B', node_id) + int(serial_number).to_bytes(6, 'little') + b'\x00'


def encode_clear_errors(identify: bool = False) -> bytes:
    return struct.pack('<B', 1 if identify else 0)


def encode_reboot(action: int = 0) -> bytes:
    return struct.pack('<B', action)


def decode_set_input_vel(data: bytes) -> tuple:
    return struct.unpack('<ff', bytes(data[:8]))


def decode_set_input_pos(data: bytes) -> tuple:
    pos, vff, tff = struct.unpack('<fhh', bytes(data[:8]))
    return pos, vff * 0.001, tff * 0.001


def decode_u32(data: bytes) -> int:
    return struct.unpack('<I', bytes(data[:4]))[0]


def decode_two_u32(data: bytes) -> tuple:
    return struct.unpack('<II', bytes(data[:8]))


def decode_two_f32(data: bytes) -> tuple:
    return struct.unpack('<ff', bytes(data[:8]))


# -- axis -> host ---------------------------------------------------------------------
@dataclass(frozen=True)
class Heartbeat:
    axis_error: int
    axis_state: int
    procedure_result: int
    trajectory_done: bool

    @property
    def errors(self) -> tuple:
        return decode_errors(self.axis_error)

    @property
    def state_name(self) -> str:
        try:
            return AxisState(self.axis_state).name
        except ValueError:
            return f'STATE_{self.axis_state}'


def encode_heartbeat(axis_error: int, axis_state: int, procedure_result: int = 0,
                     trajectory_done: bool = True) -> bytes:
    return struct.pack('<IBBBB', axis_error, axis_state, procedure_result,
                       1 if trajectory_done else 0, 0)


def decode_heartbeat(data: bytes) -> Heartbeat:
    err, state, result, flags, _ = struct.unpack('<IBBBB', bytes(data[:8]))
    return Heartbeat(err, state, result, bool(flags & 0x01))


def encode_two_f32(a: float, b: float) -> bytes:
    return struct.pack('<ff', a, b)


def encode_get_error(active_errors: int, disarm_reason: int) -> bytes:
    return struct.pack('<II', active_errors, disarm_reason)
