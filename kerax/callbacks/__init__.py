"""Callbacks (Keras 3's `keras.callbacks`): objects `fit`, `evaluate` and
`predict` call at the start and end of training, epochs and batches."""
from kerax.callbacks.backup_and_restore import BackupAndRestore
from kerax.callbacks.callback import Callback
from kerax.callbacks.callback_list import CallbackList
from kerax.callbacks.csv_logger import CSVLogger
from kerax.callbacks.early_stopping import EarlyStopping
from kerax.callbacks.history import History
from kerax.callbacks.lambda_callback import LambdaCallback
from kerax.callbacks.learning_rate_scheduler import LearningRateScheduler
from kerax.callbacks.model_checkpoint import ModelCheckpoint
from kerax.callbacks.monitor_callback import MonitorCallback
from kerax.callbacks.orbax_checkpoint import OrbaxCheckpoint
from kerax.callbacks.progbar_logger import ProgbarLogger
from kerax.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from kerax.callbacks.remote_monitor import RemoteMonitor
from kerax.callbacks.swap_ema_weights import SwapEMAWeights
from kerax.callbacks.tensorboard import TensorBoard
from kerax.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
    "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "MonitorCallback",
    "OrbaxCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN",
    "RemoteMonitor", "SwapEMAWeights",
]
