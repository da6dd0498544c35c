//! A QR code of the subscription URL as a PNG, for the bot and the dashboard.
use qrcode::{Color, EcLevel, QrCode};

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the text does not fit in a QR code: {0}")]
    TooLong(String),
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// A black-on-white PNG, `scale` pixels per module, with the standard
/// four-module quiet zone. Medium error correction.
pub fn qr_png(text: &str, scale: u32) -> Result<Vec<u8>, QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| QrError::TooLong(e.to_string()))?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let scale = scale.clamp(1, 64);
    let quiet = 4;
    let side = (modules + 2 * quiet) * scale;
    let mut pixels = vec![255u8; (side * side) as usize];
    for (i, c) in colors.iter().enumerate() {
        if *c != Color::Dark {
            continue;
        }
        let (mx, my) = (i as u32 % modules, i as u32 / modules);
        for dy in 0..scale {
            let y = (my + quiet) * scale + dy;
            let row = (y * side) as usize;
            let x0 = ((mx + quiet) * scale) as usize;
            pixels[row + x0..row + x0 + scale as usize].fill(0);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side, side);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| QrError::Png(e.to_string()))?;
        writer.write_image_data(&pixels).map_err(|e| QrError::Png(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_decodes_to_a_square_image_with_a_white_quiet_zone() {
        let png_bytes = qr_png("https://fr1.example.com:2096/sub/k2fjd9a8sl3mc0zq", 4).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width % 4, 0);
        assert!(
            buf[..(info.width * 4 * 4) as usize].iter().all(|&p| p == 255),
            "quiet zone is white"
        );
        assert!(buf.contains(&0), "has dark modules");
    }
}
