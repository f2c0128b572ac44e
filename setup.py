"""ament_python package for mining_rover.

Works both ways: `colcon build` on a ROS 2 machine (executables land in
lib/mining_rover, data in share/mining_rover) and `pip install -e .` in the
bare-machine venv made by `make`.
"""
import os

from setuptools import find_packages, setup

PACKAGE = 'mining_rover'

NODES = [
    'description_node',
    'sim_node',
    'stereo_node',
    'mapping_node',
    'drive_node',
    'excavator_node',
    'planner_node',
    'mission_node',
    'localization_node',
    'ground_link_node',
]


def data_tree(folder):
    """(install dir, files) pairs for every file under folder, keeping sub-folders."""
    pairs = []
    for root, _dirs, files in os.walk(folder):
        paths = [os.path.join(root, f) for f in files if not f.endswith('.pyc')]
        if paths:
            pairs.append((os.path.join('share', PACKAGE, root), paths))
    return pairs


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench', 'bench.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        *data_tree('launch'),
        *data_tree('config'),
        *data_tree('urdf'),
        *data_tree('worlds'),
    ],
    include_package_data=True,
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='mining_rover maintainers',
    maintainer_email='maintainers@mining-rover.org',
    description='Autonomous regolith-mining rover: perception, mapping, planning, drivers, simulator.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            *[f'{n} = {PACKAGE}.nodes.{n}:main' for n in NODES],
            f'mining-rover = {PACKAGE}.cli:main',
        ],
    },
)
