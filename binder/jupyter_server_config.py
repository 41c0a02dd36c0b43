# Jupyter server settings for Binder, copied to ~/.jupyter/ by postBuild.
# All notebooks share Binder's 2 GB: an idle kernel of chapter 1 still holds about 0.7 GB, enough to get the
# real-photos chapter (about 1.4 GB) killed. So kernels idle for 20 minutes are shut down, even with their tab
# open; the notebook stays, and running it again restarts the kernel. Chapter 8 also asks to shut others down.
c.MappingKernelManager.cull_idle_timeout = 20 * 60  # seconds without running a cell
c.MappingKernelManager.cull_interval = 60  # how often to look, in seconds
c.MappingKernelManager.cull_connected = True  # also kernels whose notebook is still open in a tab
