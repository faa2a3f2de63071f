"""The networks, in Keras 3: the partial convolution (`layers`), the PConv U-Net
(`models`), UNet3+ with Monte-Carlo dropout (`unet3plus`), the context encoder and its patch
discriminator (`context_encoder`, `adversarial`), the paper's loss on VGG16 features
(`losses`, `pretrained`), and their checkpoints (`checkpoints`)."""
