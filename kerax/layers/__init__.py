"""kerax.layers: Keras 3's layers."""
from kerax.layers.layer import Layer, KerasTensor  # noqa: F401
from kerax.layers.core import (  # noqa: F401
    Activation, Dense, Identity, Input, InputLayer, Lambda)
from kerax.layers.reshaping import Flatten, Permute, RepeatVector, Reshape  # noqa: F401
from kerax.layers.merging import (  # noqa: F401
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
    concatenate, dot, maximum, minimum, multiply, subtract)
from kerax.layers.regularization import (  # noqa: F401
    ActivityRegularization, AlphaDropout, Dropout, GaussianDropout, GaussianNoise)
from kerax.layers.normalization import (  # noqa: F401
    BatchNormalization, LayerNormalization, UnitNormalization)
from kerax.layers.embedding import Embedding  # noqa: F401
from kerax.layers.einsum_dense import EinsumDense  # noqa: F401
from kerax.layers.preprocessing import Normalization, Rescaling  # noqa: F401
from kerax.layers.convolutional import (  # noqa: F401
    Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose,
    Convolution1D, Convolution1DTranspose, Convolution2D, Convolution2DTranspose,
    Convolution3D, Convolution3DTranspose, DepthwiseConv1D, DepthwiseConv2D,
    SeparableConv1D, SeparableConv2D, SeparableConvolution1D, SeparableConvolution2D)
from kerax.layers.pooling import (  # noqa: F401
    AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D, AvgPool3D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
    GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D, GlobalMaxPool1D, GlobalMaxPool2D,
    GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
    MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from kerax.layers.reshaping_nd import (  # noqa: F401
    Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D,
    ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from kerax.layers.image_preprocessing import (  # noqa: F401
    CenterCrop, RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
    Resizing)
from kerax.layers.wrapper import Wrapper  # noqa: F401
from kerax.layers.rnn import (  # noqa: F401
    GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, Masking, SimpleRNN, SimpleRNNCell,
    StackedRNNCells, TimeDistributed)
from kerax.layers.attention import AdditiveAttention, Attention, MultiHeadAttention  # noqa: F401
from kerax.layers.normalization_extra import GroupNormalization, SpectralNormalization  # noqa: F401
from kerax.layers.spatial_dropout import (  # noqa: F401
    SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)
from kerax.layers.categorical import (  # noqa: F401
    CategoryEncoding, Discretization, HashedCrossing, IntegerLookup)
from kerax.layers.text_preprocessing import Hashing, StringLookup  # noqa: F401
from kerax.layers.jax_layer import FlaxLayer, JaxLayer  # noqa: F401
from kerax.layers.activations import ELU, LeakyReLU, PReLU, ReLU, Softmax  # noqa: F401
from kerax.layers.audio import MelSpectrogram, STFTSpectrogram  # noqa: F401
from kerax.layers import op_nodes  # noqa: F401,E402  (Keras op nodes of functional graphs)
from kerax.layers.augmentation_geometric import (  # noqa: F401,E402
    CutMix, MaxNumBoundingBoxes, MixUp, RandomCrop, RandomElasticTransform, RandomErasing,
    RandomGaussianBlur, RandomPerspective, RandomShear)
from kerax.layers.input_spec import InputSpec  # noqa: F401,E402
from kerax.layers.serialization import deserialize, serialize  # noqa: F401,E402
from kerax.layers.rms_normalization import RMSNormalization  # noqa: F401,E402
from kerax.layers.adaptive_pooling import (  # noqa: F401,E402
    AdaptiveAveragePooling1D, AdaptiveAveragePooling2D, AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D, AdaptiveMaxPooling2D, AdaptiveMaxPooling3D)
from kerax.layers.reversible_embedding import ReversibleEmbedding  # noqa: F401,E402
from kerax.layers.pipeline import Pipeline  # noqa: F401,E402
from kerax.layers.grouped_query_attention import GroupQueryAttention  # noqa: F401,E402
from kerax.layers.text_vectorization import TextVectorization  # noqa: F401,E402
from kerax.layers.augmentation_color import (  # noqa: F401,E402
    AutoContrast, ContrastLimitedAdaptiveHistogramEqualization, Equalization, RandomBrightness,
    RandomColorDegeneration, RandomColorJitter, RandomGrayscale, RandomHue, RandomInvert,
    RandomPosterization, RandomSaturation, RandomSharpness, Solarization)
from kerax.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D  # noqa: F401,E402
from kerax.layers.augmentation_mix import AugMix, RandAugment  # noqa: F401,E402
