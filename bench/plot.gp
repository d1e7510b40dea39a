# SPDX-License-Identifier: GPL-2.0-or-later
# docs/bench-iops.png from `make bench`'s data file (bench_write_dat):
# 4 KiB random IOPS against queue depth, ours (xen-virtio-blkd through
# xensim) and fio io_uring on the same file. Blocks (gnuplot index):
# 0 page cache randread, 1 page cache randwrite, 2 O_DIRECT randread,
# 3 O_DIRECT randwrite, 4 page cache randread with --poll-us 50 (5 is
# empty: no randwrite case there); columns: qd ours fio.
# usage: gnuplot -e "datafile='...'; outfile='...'" bench/plot.gp
set terminal pngcairo size 1000,420 font ",10"
set output outfile
set multiplot layout 1,2 title "4 KiB random I/O: xen-virtio-blkd via xensim (ours) vs fio io\\_uring (ref), same file, same depth"
set logscale x 2
set xtics (1, 8, 32, 64)
set xrange [0.8:80]
set xlabel "queue depth"
set ylabel "IOPS"
set format y "%.0s%c"
set key top left
set grid
set yrange [0:*]
set title "page cache (tmpfs)"
plot datafile index 0 using 1:3 with linespoints lw 2 lc rgb "#1f77b4" pt 7 title "fio randread", \
     datafile index 0 using 1:2 with linespoints lw 2 lc rgb "#1f77b4" pt 5 dt 2 title "ours randread", \
     datafile index 1 using 1:3 with linespoints lw 2 lc rgb "#d62728" pt 7 title "fio randwrite", \
     datafile index 1 using 1:2 with linespoints lw 2 lc rgb "#d62728" pt 5 dt 2 title "ours randwrite", \
     datafile index 4 using 1:2 with linespoints lw 2 lc rgb "#2ca02c" pt 9 dt 3 title "ours randread, --poll-us 50"
set title "O\\_DIRECT (ext4 on the VM's disk)"
plot datafile index 2 using 1:3 with linespoints lw 2 lc rgb "#1f77b4" pt 7 title "fio randread", \
     datafile index 2 using 1:2 with linespoints lw 2 lc rgb "#1f77b4" pt 5 dt 2 title "ours randread", \
     datafile index 3 using 1:3 with linespoints lw 2 lc rgb "#d62728" pt 7 title "fio randwrite", \
     datafile index 3 using 1:2 with linespoints lw 2 lc rgb "#d62728" pt 5 dt 2 title "ours randwrite"
unset multiplot
