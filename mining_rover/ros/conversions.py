"""Message <-> numpy conversions, all in one import (no cv_bridge, no sensor_msgs_py).

The code lives in modules by message family; this module re-exports their public API:

* image.py        sensor_msgs/Image, stereo_msgs/DisparityImage, 32FC1 map layers
* camera_info.py  sensor_msgs/CameraInfo <-> CameraModel, stereo Q matrix
* pointcloud.py   sensor_msgs/PointCloud2 <-> (N, 3) float32 / structured arrays
* grid.py         nav_msgs/OccupancyGrid <-> int8 grid
* geometry.py     Pose / Transform / Odometry <-> 4x4 matrices
* stamps.py       builtin_interfaces/Time <-> seconds

Every function raises ValueError, naming the problem and the values, on bad input.
"""
from mining_rover.ros.camera_info import (CameraModel, camera_info_to_model, make_camera_info,
                                          model_to_camera_info, stereo_baseline_m,
                                          stereo_q_matrix)
from mining_rover.ros.geometry import (check_rigid, matrix_to_odometry, matrix_to_pose,
                                       matrix_to_transform, odometry_to_matrix, odometry_to_twist,
                                       pose_to_matrix, transform_to_matrix, yaw_from_matrix,
                                       yaw_to_quaternion)
from mining_rover.ros.grid import numpy_to_occupancy_grid, occupancy_grid_to_numpy
from mining_rover.ros.image import (ENCODINGS, disparity_to_msg, encoding_info,
                                    float_grid_to_image, image_to_float_grid, image_to_numpy,
                                    msg_to_disparity, numpy_to_image)
from mining_rover.ros.pointcloud import (pointcloud2_to_array, pointcloud2_to_xyz, unpack_rgb,
                                         xyz_to_pointcloud2)
from mining_rover.ros.stamps import as_stamp, make_header, seconds_to_stamp, stamp_to_seconds

__all__ = [
    'CameraModel', 'camera_info_to_model', 'make_camera_info', 'model_to_camera_info',
    'stereo_baseline_m', 'stereo_q_matrix',
    'check_rigid', 'matrix_to_odometry', 'matrix_to_pose', 'matrix_to_transform',
    'odometry_to_matrix', 'odometry_to_twist', 'pose_to_matrix', 'transform_to_matrix',
    'yaw_from_matrix', 'yaw_to_quaternion',
    'numpy_to_occupancy_grid', 'occupancy_grid_to_numpy',
    'ENCODINGS', 'disparity_to_msg', 'encoding_info', 'float_grid_to_image',
    'image_to_float_grid', 'image_to_numpy', 'msg_to_disparity', 'numpy_to_image',
    'pointcloud2_to_array', 'pointcloud2_to_xyz', 'unpack_rgb', 'xyz_to_pointcloud2',
    'as_stamp', 'make_header', 'seconds_to_stamp', 'stamp_to_seconds',
]
