"""Stand-in for verl/utils/checkpoint/checkpoint_manager.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7:
``get_checkpoint_tracker_filename`` (<root>/latest_checkpointed_iteration.txt), ``find_latest_ckpt_path``
(197-227: reads the tracker, returns <root>/global_step_<n> if that folder exists, else None), and
``should_save_ckpt_esi`` (always False here: no ESI expiry)."""
import os


def get_checkpoint_tracker_filename(root_path: str):
    return os.path.join(root_path, "latest_checkpointed_iteration.txt")


def find_latest_ckpt_path(path, directory_format="global_step_{}"):
    if path is None:
        return None
    tracker_file = get_checkpoint_tracker_filename(path)
    if not os.path.exists(tracker_file):
        print(f"Checkpoint tracker file does not exist: {tracker_file}")
        return None
    with open(tracker_file, "rb") as f:
        iteration = int(f.read().decode())
    ckpt_path = os.path.join(path, directory_format.format(iteration))
    if not os.path.exists(ckpt_path):
        print("Checkpoint does not exist: %s", ckpt_path)
        return None
    return ckpt_path


def should_save_ckpt_esi(max_steps_duration: float, save_ckpt_duration: float = 60, redundant_time: float = 0) -> bool:
    return False
