from .inference import (
                        IMAGE_EXTENSIONS,
                        VIDEO_EXTENSIONS,
                        Detection,
                        Frame,
                        count_frames,
                        find_detections,
                        gray_from_video_frame,
                        hook_configs,
                        image_loader_from_config,
                        input_kind,
                        list_images,
                        load_frames,
                        load_model,
                        predict_probabilities,
                        read_ir_frame,
                        resolve_device,
                        run_on_frames,
)
from .runner import load_run_config, run_with_runner

__all__ = [
    'IMAGE_EXTENSIONS', 'VIDEO_EXTENSIONS', 'Detection', 'Frame', 'count_frames',
    'find_detections', 'gray_from_video_frame', 'hook_configs', 'image_loader_from_config',
    'input_kind', 'list_images', 'load_frames', 'load_model', 'predict_probabilities',
    'read_ir_frame', 'resolve_device', 'run_on_frames', 'load_run_config', 'run_with_runner'
]
